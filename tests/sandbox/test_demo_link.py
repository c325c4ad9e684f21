"""`earshot demo` as the README starts it: the printed link is the way in, and nothing else gets in."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.cli import _announce
from adapters.runtime import Runtime
from bot.config import load_settings
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"http://127\.0\.0\.1:(\d+)/sandbox/\?token=([A-Za-z0-9_-]{40,})")
SETTINGS_PREFIXES = ("SLACK_", "Microsoft", "EARSHOT_", "HOST", "PORT", "DATABASE_URL")


async def wait_for_link(process: asyncio.subprocess.Process, within: float = 90) -> tuple[str, list[str]]:
    lines: list[str] = []
    assert process.stdout is not None
    async with asyncio.timeout(within):
        while line := (await process.stdout.readline()).decode():
            lines.append(line)
            if found := LINK.search(line):
                return found.group(0), lines
    raise AssertionError(f"no link printed: {''.join(lines)}")


async def test_earshot_demo_prints_a_link_that_opens_the_workspace_and_nothing_else_gets_in(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", "PORT": str(port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "demo", "--feed-interval", "0", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        link, lines = await wait_for_link(process)
        assert f":{port}/" in link
        assert not any("warning" in line for line in lines)  # loopback only: nothing to warn about
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as stranger:
            for path in ("/sandbox/", "/sandbox/api/state?as=sam", "/sandbox/static/app.js"):
                async with stranger.get(f"{base}{path}") as response:
                    assert response.status == 401, path
            async with stranger.get(f"{base}/") as response:  # the root still leads to the sandbox: refused there
                assert response.status == 401 and "link Earshot printed" in await response.text()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(link) as response:
                assert response.status == 200 and str(response.url) == f"{base}/sandbox/"
                assert "<title>Earshot sandbox</title>" in await response.text()
            for _ in range(100):  # seeded as the app starts
                async with browser.get(f"{base}/sandbox/api/state?as=sam") as response:
                    assert response.status in (200, 400)
                    if response.status == 200 and (await response.json())["channels"]:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the demo workspace never appeared")
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("0.0.0.0", True), ("192.0.2.10", True)])
def test_start_up_prints_the_link_and_warns_when_the_sandbox_is_open_to_the_network(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str, warned: bool) -> None:
    settings = load_settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", EARSHOT_SANDBOX=True,
                             HOST=host, EARSHOT_SANDBOX_PUBLIC=warned, PORT=4242)
    runtime = Runtime(settings)
    _announce(settings, runtime)("aiohttp's own line")
    out, err = capsys.readouterr()
    shown = "localhost" if host == "0.0.0.0" else host
    assert re.search(rf"http://{re.escape(shown)}:4242/sandbox/\?token=[A-Za-z0-9_-]{{40,}}\n", out), out
    assert ("warning" in err and host in err and len(err.strip().splitlines()) == 1) is warned, err
