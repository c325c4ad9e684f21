"""The pulse form and a pulse card in the sandbox, in a real browser (issue 16, point 10): the form starts in the
manager's own timezone, People are picked with plain clicks and the keyboard (no Ctrl-click), and a deadline is
a <time> the page writes in the reader's own zone. Debian's chromium on the real app, seeded as the demo is."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from storage.tables import Pulse, PulseRun
from tests.support.server import Running

SHOTS = Path("/tmp/shots/pulses")


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


async def open_page(browser, server: Running, zone: str):  # type: ignore[no-untyped-def]
    """María (a manager, Europe/Madrid in her settings) in #cx-feedback, on a machine set to `zone`."""
    context = await browser.new_context(viewport={"width": 1100, "height": 900}, timezone_id=zone, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{server.link}&as=maria&channel=C-cx")
    await page.wait_for_selector("#status.live", state="attached", timeout=10_000)
    return page


async def send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    await page.fill("#composer", text)
    await page.press("#composer", "Enter")


async def test_the_form_starts_in_the_managers_zone_and_people_are_picked_with_plain_clicks(
        browser, server: Running, shots: Path) -> None:  # type: ignore[no-untyped-def]
    """Was: timezone UTC, and a multi-select list where a plain click dropped everyone picked before."""
    page = await open_page(browser, server, "Asia/Tokyo")
    await send(page, "/pulse")
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Title").wait_for()
    assert await dialog.get_by_label("Timezone").input_value() == "Europe/Madrid"
    people = dialog.get_by_role("group", name="People")
    assert await people.locator("select").count() == 0
    await dialog.get_by_label("Title").fill("Release retro")
    await dialog.get_by_label("Questions, one per line (up to 10)").fill("scale: How did the release go?")
    await dialog.get_by_label("Who answers").select_option("people")
    await people.get_by_role("checkbox", name="Ana Souza").click()
    await people.get_by_role("checkbox", name="Ben Okafor").click()  # a plain click keeps Ana
    await people.get_by_role("searchbox").fill("mei")
    assert not await people.get_by_role("checkbox", name="Ana Souza").is_visible()  # filtered out, still picked
    await people.get_by_role("searchbox").press("Tab")
    await page.keyboard.press("Space")  # the keyboard alone picks Mei
    assert await people.get_by_role("checkbox", name="Mei Tanaka").is_checked()
    await people.get_by_role("searchbox").fill("")
    await people.scroll_into_view_if_needed()
    await page.screenshot(path=shots / "form-people.png")
    await dialog.get_by_label("Timezone").scroll_into_view_if_needed()
    await page.screenshot(path=shots / "form-timezone.png")
    await dialog.get_by_role("button", name="Launch").click()
    await dialog.wait_for(state="detached")
    async with server.runtime.db.session() as session:
        pulse = (await session.exec(select(Pulse))).one()
    assert (pulse.audience["kind"], pulse.audience["users"]) == ("people", ["ana", "ben", "mei"])
    assert pulse.timezone == "Europe/Madrid"


async def test_a_deadline_is_shown_in_the_readers_own_zone(browser, server: Running,  # type: ignore[no-untyped-def]
                                                             shots: Path) -> None:
    """Was: "closes … UTC" (the pulse's zone) for every reader."""
    page = await open_page(browser, server, "Asia/Tokyo")
    await send(page, '/pulse "Ship on Friday?" yesno close:1d')
    moment = page.locator("#messages .block-context time").last
    await moment.wait_for(timeout=10_000)
    at = datetime.fromisoformat(await moment.get_attribute("datetime") or "")
    async with server.runtime.db.session() as session:
        run = (await session.exec(select(PulseRun))).one()
    assert at == run.closes_at
    shown = await moment.inner_text()
    assert f"{at.astimezone(ZoneInfo('Asia/Tokyo')):%H:%M} GMT+9" in shown  # Tokyo, where this reader is
    assert "UTC" not in shown
    line = await moment.locator("xpath=ancestor::div[contains(@class, 'block-context')]").inner_text()
    assert line.startswith("closes ") or " · closes " in line
    await moment.scroll_into_view_if_needed()
    await moment.locator("xpath=ancestor::*[@data-message-id][1]").screenshot(path=shots / "card-deadline.png")
