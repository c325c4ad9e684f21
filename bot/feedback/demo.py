"""The demo's slow stream of multilingual customer feedback, so the sandbox is alive within seconds."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.feedback.ingest import FeedbackIngest

log = logging.getLogger(__name__)

FEED = Path(__file__).with_name("demo_feedback.ndjson")
FEED_INTERVAL = 12.0
"""Seconds between items: about five cards a minute, a card to read at a time, every quote once in ~11 minutes."""


def demo_items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FEED.read_text(encoding="utf-8").splitlines() if line.strip()]


def shuffled_rounds(items: list[dict[str, Any]], rng: random.Random) -> Iterator[dict[str, Any]]:
    """Every item once per round, each round in a new order: no quote comes back before all the others have had
    their turn, and a round never starts with the quote the last one ended on."""
    last: dict[str, Any] | None = None
    while True:
        order = rng.sample(items, len(items))
        if len(order) > 1 and order[0] is last:
            order[0], order[-1] = order[-1], order[0]
        yield from order
        last = order[-1]


async def replay(ingest: FeedbackIngest, interval: float = FEED_INTERVAL, burst: int = 4,
                 seed: int | None = None) -> None:
    """Send `burst` items at once, then one every `interval` seconds, round after shuffled round, each with a
    fresh id."""
    run = int(time.time())
    for count, item in enumerate(shuffled_rounds(demo_items(), random.Random(seed))):
        try:
            await ingest.ingest([{**item, "id": f"demo-{run}-{count}"}])
        except Exception:  # a demo hiccup (the database busy for a moment) must not end the stream
            log.exception("demo feed item failed")
        if count >= burst - 1:
            await asyncio.sleep(interval)
