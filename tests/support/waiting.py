"""Waiting, bounded in time, for something only polling can see (rows in a database, a child's log)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, every: float = 0.1) -> None:
    """Poll `check` until it is true; fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds} s")
        await asyncio.sleep(every)
