"""The startup heap, out of the garbage collector's way."""

from __future__ import annotations

import gc
from typing import Any


async def freeze_startup_heap(_app: Any = None) -> None:
    """Everything loaded at startup (modules, SQLAlchemy's, bolt's and botbuilder's tables and caches) lives as
    long as the process. A full collection walks all of it and stopped the event loop for 70–120 ms
    (bench.slack_ack), a stall every request arriving meanwhile waits out. Collect once, then freeze what
    survived: later full collections only walk what was made since."""
    gc.collect()
    gc.freeze()
