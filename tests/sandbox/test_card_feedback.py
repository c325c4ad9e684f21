"""Every card action answers at the card, at once (issue 16, point 2): buttons show the viewer's own reactions and
claim from what is stored, a quick second click counts, someone else's reaction reaches every page within a
second, confirmations and refusals show under the card, and "Discuss" opens the card's thread ready to type in.
Debian's chromium on the real app, the quote card coming from a real ingest through the outbox."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from adapters.sandbox.presses import LIMIT
from storage.tables import Engagement, Feedback, FeedbackReaction
from tests.support.server import Running, running_app

SHOTS = Path("/tmp/shots/cards")
QUOTE = "The new export saved my team hours every week"
INSIGHT = "[data-action-id='fb:react:insight']"
LAST_ROW = "#messages > [data-message-id]:last-child"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Running]:
    async with running_app(f"sqlite+aiosqlite:///{tmp_path / 'cards.db'}") as running:
        result = await running.runtime.features.stations.ingest.ingest([
            {"id": "q1", "source": "nps-survey", "text": QUOTE + ".", "score": 9, "score_type": "nps"}])
        assert result is not None
        yield running


def shot(name: str) -> str:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return str(SHOTS / f"{name}.png")


async def open_card(browser, server: Running, person: str):  # type: ignore[no-untyped-def]
    """`person`'s page in #cx-feedback, live, with the quote card shown; returns (page, card row)."""
    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    await page.goto(f"{server.link}&as={person}&channel=C-cx")
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    card = page.locator("#messages [data-testid=message]", has_text=QUOTE)
    await card.wait_for(timeout=10_000)
    return page, card


async def pressed(card, selector: str) -> str | None:  # type: ignore[no-untyped-def]
    return await card.locator(selector).get_attribute("aria-pressed")


async def stored_insight(server: Running, user: str) -> bool:
    async with server.runtime.db.session() as session:
        row = (await session.exec(select(FeedbackReaction).where(
            FeedbackReaction.user_id == user, FeedbackReaction.reaction == "insight"))).first()
    return bool(row and row.active)


async def test_the_viewers_own_reaction_shows_on_the_card_after_a_reload_and_only_for_them(
        browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page, card = await open_card(browser, server, "ana")
    assert await pressed(card, INSIGHT) == "false"  # an on/off button says so, off for now
    await card.locator(INSIGHT).click()
    assert await pressed(card, INSIGHT) == "true"  # at once, before the server answers
    await card.locator(INSIGHT, has_text="· 1").wait_for(timeout=2_000)
    await page.wait_for_function("!document.querySelector(\"[aria-busy='true']\")")
    assert await stored_insight(server, "ana")
    assert await page.evaluate("document.activeElement.dataset.actionId") == "fb:react:insight"  # focus kept
    await page.screenshot(path=shot("own-reaction"))

    await page.reload()
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    assert await pressed(card, INSIGHT) == "true"  # from the stored reaction, not from the page's memory
    assert "pressed" in (await card.locator(INSIGHT).get_attribute("class") or "")

    await page.select_option("#whoami", "ben")
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    await card.locator(INSIGHT, has_text="· 1").wait_for(timeout=10_000)
    assert await pressed(card, INSIGHT) == "false"  # Ana's reaction counts, but it is not Ben's
    assert not page.errors
    await page.close()


async def test_a_second_click_within_two_seconds_counts_and_shows(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page, card = await open_card(browser, server, "ana")
    await card.locator(INSIGHT).click()
    await card.locator(INSIGHT, has_text="· 1").wait_for(timeout=2_000)
    await page.wait_for_timeout(300)
    await card.locator(INSIGHT).click()  # taken back well within two seconds of the first click
    assert await pressed(card, INSIGHT) == "false"
    await page.wait_for_function(f"""() => {{
        const b = document.querySelector("#messages {INSIGHT}");
        return b && b.textContent === '💡 Insight' && !b.hasAttribute('aria-busy');
    }}""", timeout=2_000)
    assert not await stored_insight(server, "ana")

    await card.locator(INSIGHT).dblclick()  # both clicks of a double click count: on, then off again
    await page.wait_for_function("!document.querySelector(\"[aria-busy='true']\")", timeout=3_000)
    await page.wait_for_timeout(300)
    assert await pressed(card, INSIGHT) == "false"
    assert not await stored_insight(server, "ana")
    await page.wait_for_function(  # the card's count follows once the outbox's last edit lands (later under load)
        f"document.querySelector(\"#messages {INSIGHT}\").textContent === '💡 Insight'", timeout=5_000)
    await page.screenshot(path=shot("double-click"))
    await page.close()


async def test_a_script_flipping_a_button_is_held_back_and_the_page_says_so(
        browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page, card = await open_card(browser, server, "ana")
    message_id = await page.locator(LAST_ROW).get_attribute("data-message-id")
    async with server.runtime.db.session() as session:
        feedback_id = (await session.exec(select(Feedback.id))).one()
    answers = []
    async with await server.sandbox_session() as client:
        for n in range(LIMIT + 3):  # on, off, on, … as fast as a script goes
            async with client.post(f"{server.url}/sandbox/api/action", json={
                    "as": "ana", "message_id": message_id, "action_id": "fb:react:insight", "value": str(feedback_id),
                    "pressed": n % 2 == 0}) as answer:
                answers.append((answer.status, await answer.json()))
    assert [status for status, _ in answers] == [200] * LIMIT + [429] * 3
    assert "clicks on this card" in answers[-1][1]["error"] and answers[-1][1]["ok"] is False
    async with server.runtime.db.session() as session:
        logged = (await session.exec(select(func.count()).select_from(Engagement).where(
            Engagement.user_id == "ana", col(Engagement.kind).in_(("reaction", "unreaction"))))).one()
    assert logged == LIMIT  # the refused presses wrote nothing

    await card.locator(INSIGHT).click()  # the page is held back too, and says why under the card
    await card.locator(".card-error", has_text="clicks on this card").wait_for(timeout=3_000)
    await page.screenshot(path=shot("too-many-clicks"))
    other, other_card = await open_card(browser, server, "ben")  # someone else's presses still count
    await other_card.locator(INSIGHT).click()
    await page.wait_for_function("!document.querySelector(\"[aria-busy='true']\")", timeout=3_000)
    await other.wait_for_timeout(300)
    assert await stored_insight(server, "ben")
    assert await other_card.locator(".card-error").inner_text() == ""
    await other.close()
    await page.close()


async def test_someone_elses_follow_up_reaction_shows_within_a_second(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    ana, ana_card = await open_card(browser, server, "ana")
    ben, ben_card = await open_card(browser, server, "ben")
    await ana_card.locator(INSIGHT).click()
    await ben_card.locator(INSIGHT, has_text="· 1").wait_for(timeout=3_000)  # the first edit
    started = time.monotonic()
    await ben_card.locator(INSIGHT).click()  # a follow-up edit of the same card, right after the first
    await ana_card.locator(INSIGHT, has_text="· 2").wait_for(timeout=3_000)
    assert time.monotonic() - started < 1.0
    await ana.screenshot(path=shot("follow-up"))
    await ana.close()
    await ben.close()


async def test_a_confirmation_and_a_refusal_show_under_the_card_not_at_the_bottom(
        browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    await server.runtime.features.stations.ingest.ingest([  # a later card: the first is no longer the last row
        {"id": "q2", "source": "helpdesk", "text": "Second card, below the first.", "score": 4, "score_type": "csat"}])
    ana, card = await open_card(browser, server, "ana")
    await ana.locator("#messages [data-testid=message]", has_text="Second card").wait_for(timeout=10_000)
    rows = await ana.locator("#messages > [data-message-id]").count()
    await card.locator("[data-action-id='fb:claim']").click()
    note = card.locator("[data-testid=card-note]")
    await note.wait_for(timeout=3_000)
    assert "following up" in await note.inner_text()
    assert "Only visible to you" in await note.inner_text()
    await card.locator("[data-action-id='fb:done']").wait_for(timeout=3_000)
    assert "mine" in (await card.locator("[data-action-id='fb:done']").get_attribute("class") or "")
    assert await ana.locator("#messages > [data-message-id]").count() == rows  # nothing added at the bottom
    await ana.screenshot(path=shot("claim-confirmed"))

    ben, ben_card = await open_card(browser, server, "ben")
    rows = await ben.locator("#messages > [data-message-id]").count()
    assert "mine" not in (await ben_card.locator("[data-action-id='fb:done']").get_attribute("class") or "")
    await ben_card.locator("[data-action-id='fb:done']").click()
    refusal = ben_card.locator("[data-testid=card-note]", has_text="can close it")
    await refusal.wait_for(timeout=3_000)
    assert "Only Ana Souza" in await refusal.inner_text()
    assert await ben.locator("#messages > [data-message-id]").count() == rows
    assert "Second card" in await ben.locator(LAST_ROW).inner_text()
    await ben.screenshot(path=shot("refusal-under-card"))

    await ben.reload()  # the note stays with its card
    await ben.wait_for_selector("#status:text('live')", timeout=10_000)
    await ben_card.locator("[data-testid=card-note]", has_text="can close it").wait_for(timeout=5_000)
    await ben_card.locator(".note-dismiss").click()
    assert await ben_card.locator("[data-testid=card-note]").count() == 0
    assert not ana.errors and not ben.errors
    await ana.close()
    await ben.close()


async def test_discuss_opens_the_cards_thread_with_the_cursor_in_its_composer(
        browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page, card = await open_card(browser, server, "mei")
    await card.locator("[data-action-id='fb:discuss']").click()
    thread = page.locator("#thread")
    await thread.wait_for(timeout=1_000)
    assert QUOTE in await thread.inner_text()
    assert await page.evaluate("document.activeElement.id") == "thread-composer"
    await thread.get_by_text("Discuss this feedback here").wait_for(timeout=3_000)
    await page.keyboard.type("Let's tell the export team")
    await page.keyboard.press("Enter")
    await thread.get_by_text("Let's tell the export team").wait_for(timeout=3_000)
    await page.screenshot(path=shot("discuss-thread"))
    assert not page.errors
    await page.close()
