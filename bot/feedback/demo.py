"""The demo's slow stream of multilingual customer feedback, so the sandbox is alive within seconds."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

from bot.feedback.ingest import FeedbackIngest

log = logging.getLogger(__name__)

FEED = Path(__file__).with_name("demo_feedback.ndjson")


def demo_items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FEED.read_text(encoding="utf-8").splitlines() if line.strip()]


async def replay(ingest: FeedbackIngest, interval: float = 5.0, burst: int = 4) -> None:
    """Send `burst` items at once, then one every `interval` seconds, round and round, each with a fresh id."""
    run = int(time.time())
    for count, item in enumerate(itertools.cycle(demo_items())):
        try:
            await ingest.ingest([{**item, "id": f"demo-{run}-{count}"}])
        except Exception:  # a demo hiccup (the database busy for a moment) must not end the stream
            log.exception("demo feed item failed")
        if count >= burst - 1:
            await asyncio.sleep(interval)
