"""The sandbox page works at phone width and by keyboard and screen reader (issue 16, point 5): axe-core finds no
WCAG 2.1 A/AA violation on the channel, an open dialog and a 390-px phone; a skip link passes the card buttons;
a card button keeps focus through its action; dialogs hold focus, close on Escape wherever focus is and give it
back; the composer has a label; new cards are summed up in a status region instead of each read out; quotes say
their language. Debian's chromium on the real app, real feedback cards from the ingest.

axe-core (npm, pinned in tests/sandbox/axe) is injected into the page. Locally these tests skip without
`npm ci` in tests/sandbox/axe; CI (.ci/run) requires it (EARSHOT_TEST_NODE=required)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox.workspace import BOT_ID
from bot.cards import text_card
from tests.support.server import Running

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
REQUIRED = "required" in (os.environ.get("EARSHOT_TEST_NODE"), os.environ.get("EARSHOT_TEST_BROWSER"))
SHOTS = Path("/tmp/shots/a11y")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ITEMS = [
    {"id": "a1", "source": "nps-survey", "text": "ชำระเงินไม่ผ่านทุกครั้งที่ใช้บัตรเครดิต ช่วยแก้ด้วยครับ", "score": 2,
     "score_type": "nps", "product_area": "checkout", "language": "th"},
    {"id": "a2", "source": "helpdesk", "text": "پرداخت خطا می‌دهد و پشتیبانی جواب نمی‌دهد", "score": 1,
     "score_type": "csat", "language": "fa", "customer": {"segment": "enterprise", "plan": "Business"}},
    {"id": "a3", "source": "appstore", "text": "Die App stürzt beim Export der Berichte ab. " * 20, "score": 2,
     "score_type": "rating", "product_area": "reports", "language": "de", "url": "https://example.com/r/a3"},
    {"id": "a4", "source": "nps-survey", "text": "Support answered in five minutes, lovely people.", "score": 10,
     "score_type": "nps", "language": "en_GB"},
]


def axe_source() -> str:
    if not AXE.is_file():
        reason = f"run `npm ci` in {AXE.parents[2]} first (axe-core is missing)"
        if REQUIRED:
            pytest.fail(f"axe-core can't run: {reason}")
        pytest.skip(f"axe-core can't run: {reason}")
    return AXE.read_text(encoding="utf-8")


async def feedback_cards(server: Running) -> None:
    """Real quote cards in #cx-feedback (its station takes everything), as the ingest sends them."""
    result = await server.runtime.features.stations.ingest.ingest(ITEMS)
    assert result.accepted == len(ITEMS), result.rejected


async def open_page(browser, server: Running, person: str = "ana", channel: str = "C-cx",  # type: ignore[no-untyped-def]
                    viewport: dict[str, int] = DESKTOP, cards: int = len(ITEMS)):
    page = await browser.new_page(viewport=viewport)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    await page.goto(f"{server.link}&as={person}&channel={channel}")
    await page.wait_for_selector("#status.live", state="attached", timeout=10_000)  # in the drawer on a phone
    if cards:
        await page.wait_for_function(
            f"document.querySelectorAll('#messages blockquote').length >= {cards}", timeout=20_000)
    return page


async def violations(page) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """axe-core's WCAG 2.1 A and AA violations on the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=axe_source())
    found = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']}))"
        ".violations.map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map("
        "(n) => ({target: n.target, summary: n.failureSummary}))}))", AA)
    return list(found)


async def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    await page.screenshot(path=SHOTS / f"{name}.png")  # Playwright makes the folder


async def test_axe_finds_no_aa_violations_on_the_channel_the_dialog_and_a_phone(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    axe_source()
    await feedback_cards(server)
    page = await open_page(browser, server)
    await page.locator("#messages [data-action-id='fb:react:insight']").first.click()  # a reaction of your own
    await page.wait_for_function("document.querySelector('#messages .reaction, #messages .btn')")
    await shot(page, "desktop-channel")
    assert await violations(page) == []

    maria = await open_page(browser, server, "maria")
    await maria.fill("#composer", "/pulse")
    await maria.press("#composer", "Enter")
    await maria.wait_for_selector("#modal")
    await shot(maria, "desktop-dialog")
    assert await violations(maria) == []

    phone = await open_page(browser, server, viewport=PHONE)
    await shot(phone, "phone-channel")
    assert await violations(phone) == []
    await phone.click("#sidebar-toggle")
    await phone.wait_for_selector("#sidebar", state="visible")
    await phone.wait_for_timeout(300)  # the drawer has slid in
    await shot(phone, "phone-drawer")
    assert await violations(phone) == []
    for p in (page, maria, phone):
        assert p.errors == []


async def test_at_390_px_nothing_scrolls_sideways_and_the_sidebar_is_a_drawer(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    await feedback_cards(server)
    page = await open_page(browser, server, viewport=PHONE)
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert await page.evaluate("document.getElementById('messages').scrollWidth <= "
                               "document.getElementById('messages').clientWidth")
    outside = await page.evaluate("""() => [...document.querySelectorAll('#main button, #main a, #main blockquote')]
        .filter((n) => n.getClientRects().length)
        .map((n) => [n.textContent.trim().slice(0, 30), n.getBoundingClientRect().left,
                     n.getBoundingClientRect().right])
        .filter(([, left, right]) => left < 0 || right > window.innerWidth)""")
    assert outside == []
    assert await page.locator("#sidebar").is_hidden()  # not in the tab order either
    width = (await page.locator("#messages").bounding_box())["width"]
    assert width >= PHONE["width"] - 2  # the channel has the whole width

    toggle = page.get_by_role("button", name="Channels", exact=False)
    assert "unread" in await page.locator("#sidebar-toggle").aria_snapshot()  # other channels have news
    assert await toggle.get_attribute("aria-expanded") == "false"
    await toggle.click()
    assert await toggle.get_attribute("aria-expanded") == "true"
    await page.wait_for_selector("#sidebar", state="visible")
    await page.locator("#sidebar [data-channel-id='C-general']").click()
    await page.wait_for_selector("#channel-title:text('# general')")
    await page.locator("#sidebar").wait_for(state="hidden")
    assert await page.evaluate("document.activeElement.id") == "messages"
    await toggle.click()
    await page.wait_for_selector("#sidebar", state="visible")
    await page.keyboard.press("Escape")  # closes the drawer, focus back on its button
    await page.locator("#sidebar").wait_for(state="hidden")
    assert await page.evaluate("document.activeElement.id") == "sidebar-toggle"
    assert page.errors == []


async def test_a_skip_link_takes_tab_past_the_cards_to_the_composer_and_the_messages(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    await feedback_cards(server)
    page = await open_page(browser, server)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to composer"
    await shot(page, "desktop-skip-link")
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "composer"
    await page.reload()
    await page.wait_for_selector("#status.live", state="attached")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to messages"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "messages"
    await page.keyboard.press("Tab")  # the next stop is in the cards, not the sidebar
    assert await page.evaluate("!!document.activeElement.closest('#messages [data-message-id]')")


async def test_a_card_button_or_its_replacement_keeps_focus_through_its_action(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    await feedback_cards(server)
    page = await open_page(browser, server)
    row = page.locator("#messages [data-message-id]").filter(has=page.locator("blockquote[lang=fa]"))
    row_id = await row.get_attribute("data-message-id")
    insight = row.locator("[data-action-id='fb:react:insight']")
    before = await insight.text_content()
    await insight.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_function(f"""() => {{
        const b = document.querySelector('[data-message-id="{row_id}"] [data-action-id="fb:react:insight"]');
        return b && b.textContent !== {before!r};
    }}""", timeout=10_000)
    await page.wait_for_timeout(300)
    focused = await page.evaluate("[document.activeElement.dataset.actionId, "
                                  "document.activeElement.closest('[data-message-id]')?.dataset.messageId]")
    assert focused == ["fb:react:insight", row_id]

    await row.locator("[data-action-id='fb:claim']").focus()
    await page.keyboard.press("Enter")  # "I'll follow up" is replaced by "Mark done": it takes the focus
    await page.wait_for_selector(f"[data-message-id='{row_id}'] [data-action-id='fb:done']", timeout=10_000)
    await page.wait_for_timeout(300)
    assert await page.evaluate("document.activeElement.dataset.actionId") == "fb:done"

    await page.locator("blockquote[lang=de] .show-more").focus()
    await page.keyboard.press("Enter")  # the link goes away: the reader goes on with the whole quote
    assert await page.evaluate("document.activeElement.lang") == "de"
    assert page.errors == []


async def test_a_dialog_holds_focus_closes_on_escape_anywhere_and_gives_focus_back(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await open_page(browser, server, "maria", cards=0)
    await page.fill("#composer", "/pulse")
    await page.press("#composer", "Enter")
    dialog = page.get_by_role("dialog")
    await dialog.wait_for()
    assert await page.evaluate("document.getElementById('modal').contains(document.activeElement)")
    assert await page.evaluate("document.getElementById('app').inert")  # the page behind is out of reach
    for _ in range(40):  # Tab never leaves the dialog
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.getElementById('modal').contains(document.activeElement)")
    await page.keyboard.press("Shift+Tab")
    assert await page.evaluate("document.getElementById('modal').contains(document.activeElement)")

    await page.mouse.click(5, 5)  # on the backdrop: focus leaves the dialog's fields
    await page.keyboard.press("Escape")
    await dialog.wait_for(state="detached")
    assert await page.evaluate("document.activeElement.id") == "composer"  # where it was opened from
    assert not await page.evaluate("document.getElementById('app').inert")
    assert page.errors == []


async def test_the_page_names_its_parts_and_reads_out_counts_not_cards(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    await feedback_cards(server)
    page = await open_page(browser, server)
    snapshot = await page.locator("body").aria_snapshot()
    for part in ('link "Skip to composer"', 'link "Skip to messages"', 'complementary "Workspace"',
                 'navigation "Channels"', "main", 'region "Messages in # cx-feedback"',
                 'textbox "Message #cx-feedback"', "status"):
        assert part in snapshot, part
    assert await page.get_attribute("#messages", "aria-live") is None  # cards are not read out one by one
    assert await page.get_attribute("#messages", "role") != "log"
    langs = await page.eval_on_selector_all("#messages blockquote", "qs => qs.map((q) => q.lang)")
    assert sorted(langs) == ["de", "en-GB", "fa", "th"]

    for n in range(3):
        await server.workspace.post("C-cx", BOT_ID, text_card(f"Plain news {n}"))
    await page.wait_for_function("document.getElementById('announce').textContent.includes('3 new messages')",
                                 timeout=10_000)
    assert await page.text_content("#announce") == "3 new messages in # cx-feedback"

    await page.fill("#composer", "/station list")
    await page.press("#composer", "Enter")  # the answer to your own action is read out
    await page.wait_for_function("document.getElementById('announce').textContent.includes('Stations in this channel')",
                                 timeout=10_000)
    assert await page.text_content("#announce") == "Stations in this channel: #1 · all feedback"
    assert page.errors == []
