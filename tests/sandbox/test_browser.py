"""The sandbox page in a real browser: Debian's chromium driven by Playwright, headless."""

from __future__ import annotations

from bot.cards import Button, Buttons, Card, Quote, Text
from bot.events import Target
from tests.support.server import Running


async def open_sandbox(browser, server: Running, person: str = "ana"):  # type: ignore[no-untyped-def]
    """The sandbox page as `person` in #cx-feedback, opened from the printed link, once its live connection
    is up."""
    page = await browser.new_page()
    await page.goto(f"{server.link}&as={person}&channel=C-cx")
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    return page


async def type_command(page, text: str) -> None:  # type: ignore[no-untyped-def]
    await page.fill("#composer", text)
    await page.press("#composer", "Enter")


async def post_card(server: Running, card: Card, key: str) -> None:
    """A card from the core to #cx-feedback, through the outbox like any other."""
    async with server.runtime.db.session() as session:
        await server.runtime.outbox.send(session, Target.channel("sandbox", "C-cx"), card, dedupe_key=key)
        await session.commit()


async def test_a_command_reply_and_a_live_core_message_appear(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{server.link}&as=ana&channel=C-cx")
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    assert page.url == f"{server.url}/sandbox/?as=ana&channel=C-cx"  # the secret went into a cookie

    await type_command(page, "/station help")
    reply = page.locator("#messages [data-testid=message]", has_text="/station")
    await reply.first.wait_for(timeout=10_000)
    assert "Only visible to you" in await reply.first.inner_text()

    card = Card(fallback="A customer said something",
                blocks=(Quote("«Поддержка ответила за 5 минут» — <!channel> سلام"), Text("Live from the core"),
                        Buttons((Button("fb:react:insight", "💡 Insight", "1"),))))
    await post_card(server, card, "live-1")
    live = page.locator("#messages [data-testid=message]", has_text="Live from the core")
    await live.wait_for(timeout=10_000)
    text = await live.inner_text()
    assert "<!channel> سلام" in text  # shown as text, never markup
    assert await live.locator("button[data-action-id='fb:react:insight']").count() == 1
    assert errors == []
    await page.close()


async def test_switching_person_hides_private_replies(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await open_sandbox(browser, server)
    await type_command(page, "/pulse help")
    await page.locator("#messages [data-testid=message]", has_text="/pulse").first.wait_for(timeout=10_000)
    await page.select_option("#whoami", "ben")
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    await page.wait_for_function("new URLSearchParams(location.search).get('as') === 'ben' || "
                                 "document.querySelector('#whoami').value === 'ben'")
    await page.wait_for_timeout(300)
    assert await page.locator("#messages [data-testid=message]", has_text="/pulse").count() == 0
    await page.close()


async def test_show_more_reveals_a_cut_quote_whole(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    from bot.text import cut

    words = "สั่งของแล้วไม่ได้รับ รอมาสองสัปดาห์ " * 12 + "Доставка опоздала. "
    head, rest = cut(words, 120)
    await post_card(server, Card("long", (Quote(head, more=rest),)), "long-1")
    page = await open_sandbox(browser, server)
    quote = page.locator("#messages blockquote", has_text=head[:20])
    await quote.wait_for(timeout=10_000)
    await quote.locator(".show-more").click()
    assert await quote.evaluate("q => q.firstChild.data") == words
    await page.close()


async def test_a_file_in_a_card_is_a_download_link(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    from bot.cards import File
    from bot.files import save_file

    async with server.runtime.db.session() as session:
        url = await save_file(session, "pulse-1-run-1.csv", "text/csv", "question,answer\r\nОк?,👍 Yes\r\n".encode())
        await session.commit()
    await post_card(server, Card("CSV", (File(url, "pulse-1-run-1.csv"),)), "file-1")
    page = await open_sandbox(browser, server)
    link = page.locator("#messages a.block-file")
    await link.wait_for(timeout=10_000)
    assert await link.get_attribute("download") == "pulse-1-run-1.csv"
    href = await link.get_attribute("href")
    assert href == f"/sandbox/files/{url.removeprefix('file:')}?as=ana"
    fetched = await page.evaluate("async (href) => (await (await fetch(href)).text())", href)
    assert fetched == "question,answer\r\nОк?,👍 Yes\r\n"
    await page.close()


async def test_the_pulse_form_picks_people_from_the_workspace(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await open_sandbox(browser, server, "maria")
    await type_command(page, "/pulse")
    people = page.locator("form.modal").get_by_role("group", name="People")
    await people.wait_for(state="attached", timeout=10_000)
    for name in ("Ana Souza", "María García"):
        assert await people.get_by_role("checkbox", name=name, include_hidden=True).count() == 1
    await page.close()


async def test_without_the_printed_link_the_page_says_how_to_get_in(browser, server: Running) -> None:  # type: ignore[no-untyped-def]
    page = await browser.new_page()
    response = await page.goto(f"{server.url}/")  # the root leads to the sandbox, which wants the link first
    assert response is not None and response.status == 401
    assert "Open the link Earshot printed when it started" in await page.inner_text("body")
    await page.goto(server.link)
    await page.wait_for_selector("#status:text('live')", timeout=10_000)
    assert page.url.startswith(f"{server.url}/sandbox/") and "token" not in page.url
    assert await page.evaluate("document.cookie") == ""  # HttpOnly: the page's scripts never see the secret
    await page.close()
