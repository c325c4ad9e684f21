"""New cards never move a reader who scrolled up, nor the channel behind an open dialog: a "new messages" pill
says they came and takes the reader down (issue 16, point 1). Debian's chromium on the real app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.sandbox.workspace import BOT_ID
from bot.cards import Button, Buttons, Card, Heading, Quote, Text
from tests.support.server import Running

PILL = "#new-messages"
VIEW = """() => {
  const list = document.getElementById('messages');
  const top = list.getBoundingClientRect().top;
  const rows = [...list.querySelectorAll('[data-message-id]')];
  const first = rows.find((r) => r.getBoundingClientRect().bottom > top);
  return {first: first.dataset.messageId, offset: first.getBoundingClientRect().top - top, rows: rows.length,
          scrollTop: list.scrollTop, fromBottom: list.scrollHeight - list.scrollTop - list.clientHeight};
}"""


async def post_cards(server: Running, first: int, count: int) -> list[str]:
    """Feedback-like cards from the bot in #cx-feedback, pushed live as the outbox's deliveries are."""
    ids = []
    for n in range(first, first + count):
        card = Card(f"Card {n}", (Heading(f"Card {n}"), Quote(f"Customer quote number {n}: the app was slow today."),
                                  Buttons((Button("fb:react:insight", "💡 Insight", str(n)),))))
        ids.append((await server.workspace.post("C-cx", BOT_ID, card))["id"])
    return [str(i) for i in ids]


async def open_channel(browser, server: Running, person: str):  # type: ignore[no-untyped-def]
    page = await browser.new_page(viewport={"width": 1100, "height": 700})
    await page.goto(f"{server.link}&as={person}&channel=C-cx")
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    return page


async def rows(page) -> int:  # type: ignore[no-untyped-def]
    return await page.locator("#messages [data-message-id]").count()


async def wait_rows(page, count: int) -> None:  # type: ignore[no-untyped-def]
    await page.wait_for_function(f"document.querySelectorAll('#messages [data-message-id]').length === {count}",
                                 timeout=10_000)


async def scroll_up(page, pixels: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """As a reader does: the mouse wheel over the channel."""
    await page.hover("#messages")
    await page.mouse.wheel(0, -pixels)
    await page.wait_for_function(f"document.getElementById('messages').scrollHeight - "
                                 f"document.getElementById('messages').scrollTop - "
                                 f"document.getElementById('messages').clientHeight >= {pixels - 50}")
    await page.wait_for_timeout(150)  # the scroll event has been handled
    return await page.evaluate(VIEW)


async def test_new_cards_leave_a_reader_who_scrolled_up_in_place_and_a_pill_takes_them_down(
        browser, server: Running, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await post_cards(server, 1, 40)
    page = await open_channel(browser, server, "ana")
    await wait_rows(page, 40)
    assert (await page.evaluate(VIEW))["fromBottom"] < 2  # a channel opens at its newest card
    assert await page.locator(PILL).is_hidden()

    before = await scroll_up(page, 1500)
    newest = await post_cards(server, 41, 3)
    await wait_rows(page, 43)
    await page.wait_for_timeout(200)
    after = await page.evaluate(VIEW)
    assert (after["first"], after["scrollTop"]) == (before["first"], before["scrollTop"])
    assert abs(after["offset"] - before["offset"]) < 1
    await page.locator(PILL).wait_for(state="visible", timeout=2_000)
    assert await page.inner_text(PILL) == "3 new messages ↓"
    await page.screenshot(path=tmp_path / "pill.png")

    await page.click(PILL)
    assert (await page.evaluate(VIEW))["fromBottom"] < 2
    assert await page.locator(PILL).is_hidden()
    assert await page.locator(f"[data-message-id='{newest[-1]}']").is_visible()
    assert await page.evaluate("document.activeElement.id") == "composer"
    await page.screenshot(path=tmp_path / "after-pill.png")

    await post_cards(server, 44, 1)  # at the bottom, a new card comes into view as before
    await wait_rows(page, 44)
    await page.wait_for_timeout(100)
    assert (await page.evaluate(VIEW))["fromBottom"] < 2
    assert await page.locator(PILL).is_hidden()
    await page.close()


async def test_scrolling_down_by_hand_to_the_new_cards_hides_the_pill(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    await post_cards(server, 1, 30)
    page = await open_channel(browser, server, "ana")
    await wait_rows(page, 30)
    await scroll_up(page, 800)
    await post_cards(server, 31, 1)
    await page.locator(PILL).wait_for(state="visible", timeout=5_000)
    assert await page.inner_text(PILL) == "1 new message ↓"
    await page.mouse.wheel(0, 5000)
    await page.locator(PILL).wait_for(state="hidden", timeout=3_000)
    await page.close()


async def test_edits_and_reloads_above_the_reader_do_not_move_the_card_being_read(
        browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    ids = await post_cards(server, 1, 40)
    page = await open_channel(browser, server, "ana")
    await wait_rows(page, 40)
    before = await scroll_up(page, 1200)
    reading = ids.index(before["first"])
    grown = Card("grown", (Heading("Card grown"), *(Text(f"A much longer card, line {n}") for n in range(12))))
    for above in (ids[reading - 1], before["first"]):  # the card above, and the very card being read
        await server.workspace.edit(int(above), grown)
        await page.locator(f"[data-message-id='{above}']", has_text="line 11").wait_for()
        after = await page.evaluate(VIEW)
        assert after["first"] == before["first"]
        if above != before["first"]:
            assert abs(after["offset"] - before["offset"]) < 1

    before = await page.evaluate(VIEW)
    await server.workspace.push(["ana"], {"type": "channels"})  # the page reloads its whole state
    await page.wait_for_timeout(500)
    after = await page.evaluate(VIEW)
    assert (after["first"], round(after["offset"])) == (before["first"], round(before["offset"]))
    assert await page.locator(PILL).is_hidden()
    await page.close()


async def test_an_open_dialog_never_scrolls_the_channel_behind_it(browser, server: Running, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await post_cards(server, 1, 30)
    page = await open_channel(browser, server, "maria")
    await wait_rows(page, 30)
    await page.fill("#composer", "/pulse")
    await page.press("#composer", "Enter")
    await page.locator("form.modal").wait_for(timeout=10_000)
    before = await page.evaluate(VIEW)
    assert before["fromBottom"] < 2

    await post_cards(server, 31, 3)
    await wait_rows(page, 33)
    await page.wait_for_timeout(200)
    after = await page.evaluate(VIEW)
    assert (after["first"], after["scrollTop"]) == (before["first"], before["scrollTop"])
    await page.screenshot(path=tmp_path / "dialog-open.png")

    await page.locator("form.modal button", has_text="Cancel").click()
    await page.locator(PILL).wait_for(state="visible", timeout=2_000)
    assert await page.inner_text(PILL) == "3 new messages ↓"
    assert (await page.evaluate(VIEW))["scrollTop"] == before["scrollTop"]
    await page.screenshot(path=tmp_path / "dialog-closed.png")
    await page.close()
