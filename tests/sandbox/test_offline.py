"""When the server stops, an open tab says so at once and stops sending, and the server does not wait for the tab
(issue 16, point 6): `earshot demo` in a child process, Debian's chromium on its page."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.sandbox.workspace import Workspace
from bot.cards import text_card
from storage.engine import Database
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"http://127\.0\.0\.1:\d+/sandbox/\?token=[A-Za-z0-9_-]{40,}")
SETTINGS_PREFIXES = ("SLACK_", "Microsoft", "EARSHOT_", "HOST", "PORT", "DATABASE_URL")
STOPS_WITHIN = 5.0
OFFLINE = "#offline:text('Offline — reconnecting…')"


@asynccontextmanager
async def demo(database: Path, port: int, output: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`earshot demo` without the feed, as the README starts it; yields the process and its printed link."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{database}", "PORT": str(port)}
    with output.open("wb") as log:  # a file, not a pipe: nobody has to keep reading it
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.cli", "demo", "--feed-interval", "0", env=env, cwd=ROOT,
            stdout=log, stderr=asyncio.subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not (found := LINK.search(printed := await asyncio.to_thread(output.read_text, errors="replace"))):
            assert process.returncode is None, printed
            assert time.monotonic() < deadline, f"no link printed: {printed}"
            await asyncio.sleep(0.1)
        yield process, found.group(0)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def open_page(context, link: str):  # type: ignore[no-untyped-def]
    page = await context.new_page()
    await page.goto(f"{link}&as=ana&channel=C-cx")
    await page.wait_for_selector("#status:text('live')", timeout=30_000)
    await page.locator("#messages").wait_for()
    return page


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_with_a_tab_open_earshot_demo_stops_within_seconds_and_the_tab_says_offline_at_once(
        browser, tmp_path: Path, signum: signal.Signals) -> None:  # type: ignore[no-untyped-def]
    async with demo(tmp_path / "demo.db", free_port(), tmp_path / "demo.log") as (process, link):
        context = await browser.new_context()
        page = await open_page(context, link)
        await page.focus("#composer")
        assert await page.locator("#offline").is_hidden()

        asked = time.monotonic()
        process.send_signal(signum)
        await page.wait_for_selector(OFFLINE, timeout=3_000)  # said at once, not after a ping times out
        shown = time.monotonic() - asked
        assert await page.locator("#composer").is_disabled()
        assert await page.get_attribute("#composer", "placeholder") == "Offline — reconnecting…"
        assert await page.inner_text("#status") == "offline"
        live_region = page.locator("#offline")
        assert await live_region.get_attribute("aria-live") == "polite"
        assert await live_region.get_attribute("role") == "status"
        await page.screenshot(path=tmp_path / "offline.png")

        await asyncio.wait_for(process.wait(), STOPS_WITHIN + 1)
        stopped = time.monotonic() - asked
        assert stopped < STOPS_WITHIN, f"stopping took {stopped:.1f} s with a tab open"
        assert shown < 2.0, f"the tab said offline after {shown:.1f} s"
        print(f"{signum.name}: offline shown after {shown:.2f} s, process exited after {stopped:.2f} s")
        await context.close()


async def test_the_tab_reconnects_when_the_server_is_back_and_reloads_what_it_missed(
        browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    database, port = tmp_path / "demo.db", free_port()
    context = await browser.new_context()
    async with demo(database, port, tmp_path / "first.log") as (process, link):
        page = await open_page(context, link)
        await page.fill("#composer", "half-typed reply")
        process.send_signal(signal.SIGTERM)
        await page.wait_for_selector(OFFLINE, timeout=3_000)
        await asyncio.wait_for(process.wait(), STOPS_WITHIN + 1)

    # Written while no server runs: the page can only learn of it by loading the state again.
    db = Database(f"sqlite+aiosqlite:///{database}")
    try:
        await Workspace(db).post("C-cx", "ben", text_card("Posted while the sandbox was down"))
    finally:
        await db.dispose()

    async with demo(database, port, tmp_path / "second.log") as (_process, new_link):
        # A new start makes a new secret: until its link is opened, the tab says what to do.
        await page.wait_for_selector("#banner:has-text('link Earshot printed')", timeout=15_000)
        assert await page.locator("#composer").is_disabled()
        await page.screenshot(path=tmp_path / "new-link-needed.png")
        other = await context.new_page()  # the new link, opened in another tab of the same browser
        await other.goto(new_link)
        await page.wait_for_selector("#status:text('live')", timeout=15_000)
        await page.locator("#messages [data-testid=message]", has_text="Posted while the sandbox was down").wait_for(
            timeout=5_000)
        assert await page.locator("#offline").is_hidden()
        assert await page.locator("#banner").is_hidden()
        assert await page.locator("#composer").is_enabled()
        assert await page.evaluate("document.activeElement.id") == "composer"  # typing can go on where it stopped
        assert await page.input_value("#composer") == "half-typed reply"
        await page.screenshot(path=tmp_path / "back-online.png")
    await context.close()
