"""Shared pieces of the benchmarks: a server in a child process, open-loop load, percentiles, the figures line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def start_earshot(env: dict[str, str], role: str = "web") -> tuple[subprocess.Popen[bytes], str]:
    """`earshot serve ROLE` in a child process on a free port; returns it with its base URL once healthy."""
    port = free_port()
    child_env = {**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1", "EARSHOT_LOG_FORMAT": "text"}
    log = tempfile.NamedTemporaryFile(prefix="earshot-bench-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve", role], env=child_env, cwd=ROOT,
                               stdout=log, stderr=log)
    process.log_path = log.name  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    asyncio.run(_wait_healthy(url, process))
    return process, url


async def _wait_healthy(url: str, process: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {server_log(process)}")
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not become healthy in time")


async def sandbox_session(process: subprocess.Popen[bytes], within: float = 10,
                          **options: Any) -> aiohttp.ClientSession:
    """A client that has opened the sandbox link the server printed at start, as a browser does: it keeps the
    cookie that link sets (in a jar that, like a browser's, keeps cookies from 127.0.0.1). The caller closes it."""
    deadline = time.monotonic() + within
    while not (found := re.search(r"http://\S+/sandbox/\?token=\S+", server_log(process, tail=100_000))):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server printed no sandbox link: {server_log(process)}")
        await asyncio.sleep(0.1)
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), **options)
    async with session.get(found.group(0), allow_redirects=False) as response:
        if response.status != 303:
            await session.close()
            raise RuntimeError(f"the sandbox link answered {response.status}")
    return session


def server_log(process: subprocess.Popen[bytes], tail: int = 3000) -> str:
    """The end of the child's log, for error messages."""
    return Path(process.log_path).read_text(errors="replace")[-tail:]  # type: ignore[attr-defined]


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


async def open_loop(rate: float, count: int, request: Callable[[int], Awaitable[None]]) -> list[float]:
    """Fire request i at start + i/rate whether or not earlier ones finished; latency counts from when it was
    due, so a server that falls behind shows its queue in the figures. Each request's task is made when it is
    due, not all up front: thousands of sleeping tasks made at once stalled this process for the first ~100 ms
    and showed as server latency. Returns milliseconds per request."""
    latencies: list[float] = [0.0] * count

    async def one(index: int, due: float) -> None:
        await request(index)
        latencies[index] = (time.perf_counter() - due) * 1000

    start = time.perf_counter() + 0.05
    running = []
    for index in range(count):
        due = start + index / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        running.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*running)
    return latencies


def emit(figures: dict[str, Any]) -> None:
    """The last line a benchmark prints: one JSON object of figures."""
    print(json.dumps(figures, ensure_ascii=False), flush=True)
