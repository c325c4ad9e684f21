"""A page is "live" only once it is in step with the server: a message posted while its socket was still opening
(after the page had loaded the workspace, before the server had registered the socket) still shows. It used to be
lost until a reload, which is how a card's new count went missing after switching person (CI, December 2026)."""

from __future__ import annotations

import asyncio
import re

from bot.cards import text_card
from tests.support.server import Running

WORDS = "Posted while the page was connecting"


async def test_a_message_posted_while_the_socket_opens_still_shows(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    opening = asyncio.Event()
    go_on = asyncio.Event()

    async def hold(route) -> None:  # type: ignore[no-untyped-def]
        opening.set()
        await go_on.wait()  # the server hears of this socket only now
        route.connect_to_server()

    await page.route_web_socket(re.compile(r"/sandbox/ws"), hold)
    await page.goto(f"{server.link}&as=ana&channel=C-general")
    await page.wait_for_selector("#messages [data-testid=message]")  # the workspace is loaded and shown
    await asyncio.wait_for(opening.wait(), 10)
    await server.workspace.post("C-general", "ben", text_card(WORDS))
    go_on.set()

    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    await page.locator("#messages [data-testid=message]", has_text=WORDS).wait_for(timeout=5_000)
    await page.close()
