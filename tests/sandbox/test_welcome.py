"""A newcomer is oriented (issue 16, point 3): Earshot's first DM to each person says who they are, what Earshot
does, that "You are" unlocks the manager, HR and admin features, and what to type; #general has a first message;
the sidebar counts unread messages per conversation and person, and clears a count once it is viewed.
Debian's chromium on the real app, seeded as `earshot demo` seeds it."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from adapters.sandbox.demo import seed_workspace
from adapters.sandbox.workspace import BOT_ID, dm_channel_id
from bot.cards import text_card
from storage.tables import SandboxMessage
from tests.support.server import Running

SHOTS = Path("/tmp/shots/a11y")


async def texts(server: Running, channel_id: str) -> list[str]:
    async with server.runtime.db.session() as session:
        cards = await session.exec(select(SandboxMessage.card).where(SandboxMessage.channel_id == channel_id))
        return [" ".join(str(b.get("text", "")) for b in card["blocks"]) for card in cards]


async def open_page(browser, server: Running, person: str, channel: str):  # type: ignore[no-untyped-def]
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(f"{server.link}&as={person}&channel={channel}")
    await page.wait_for_selector("#status.live", state="attached", timeout=10_000)
    return page


async def test_each_person_gets_one_welcome_dm_and_general_a_first_message(server: Running) -> None:
    (ana,) = await texts(server, dm_channel_id("ana"))
    assert "You are Ana Souza, an employee" in ana
    assert "“You are”" in ana and "manager, HR and admin features" in ana
    assert "María García (manager)" in ana and "(HR)" in ana and "(admin)" in ana
    assert "/pulse help" in ana and "/station list" in ana
    (maria,) = await texts(server, dm_channel_id("maria"))
    assert "You are María García, a manager" in maria and "/pulse — start a pulse with a form" in maria
    (priya,) = await texts(server, dm_channel_id("priya"))
    assert "in HR" in priya and "/digest preview" in priya
    (general,) = await texts(server, "C-general")
    assert "I'm Earshot" in general and "/pulse help" in general

    await seed_workspace(server.runtime.db, server.workspace)  # a restart of the demo says nothing twice
    assert len(await texts(server, dm_channel_id("ana"))) == 1
    assert len(await texts(server, "C-general")) == 1


async def test_the_welcome_dm_shows_in_the_page_with_an_unread_badge(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await open_page(browser, server, "ana", "C-cx")
    dm = page.get_by_role("link", name="Earshot 1 unread")
    await dm.wait_for()
    await page.get_by_role("link", name="# general 1 unread").wait_for()
    await page.screenshot(path=SHOTS / "desktop-unread.png")
    await dm.click()
    await page.wait_for_selector("#messages .block-heading:text('Welcome to Earshot, Ana')")
    await page.screenshot(path=SHOTS / "desktop-welcome-dm.png")
    await page.get_by_role("link", name="Earshot", exact=True).wait_for()  # viewed: no count
    assert await page.locator("#dm-list .unread-badge").count() == 0


async def test_unread_counts_arrive_live_clear_when_viewed_and_are_kept_per_person(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await open_page(browser, server, "ana", "C-general")
    await page.get_by_role("link", name="# cx-feedback", exact=True).wait_for()
    for n in range(3):
        await server.workspace.post("C-cx", BOT_ID, text_card(f"News {n}"))
    await server.workspace.post("C-cx", "ana", text_card("My own words"))  # yours never count
    link = page.get_by_role("link", name="# cx-feedback 3 unread")
    await link.wait_for(timeout=10_000)
    await page.reload()  # kept on this browser, per person
    await page.wait_for_selector("#status.live", state="attached")
    await link.wait_for()
    await link.click()
    await page.get_by_role("link", name="# cx-feedback", exact=True).wait_for()
    await server.workspace.post("C-cx", BOT_ID, text_card("While you read"))  # the open channel: no count
    await page.wait_for_selector("#messages:has-text('While you read')")
    await page.get_by_role("link", name="# general", exact=True).click()
    await page.get_by_role("link", name="# cx-feedback", exact=True).wait_for()

    await page.select_option("#whoami", "ben")  # Ben has viewed nothing yet
    await page.get_by_role("link", name="# cx-feedback 5 unread").wait_for(timeout=10_000)


async def test_a_first_visit_opens_on_the_welcome_dm(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(server.link)  # the printed link, nothing remembered yet
    await page.wait_for_selector("#messages .block-heading:text('Welcome to Earshot, Ana')", timeout=10_000)
    assert await page.text_content("#channel-title") == "Earshot"
    await page.screenshot(path=SHOTS / "phone-first-visit.png")
