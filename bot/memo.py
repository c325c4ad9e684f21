"""Remembered async lookups with one lookup in flight per key: under a burst (a thousand votes on a new
pulse), callers arriving while the first lookup runs wait for it instead of each querying the database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """`load(key)` runs once per key; its value is kept unless `keep(value)` says no (then the next caller
    looks again). A lookup that fails is not kept either."""

    def __init__(self, load: Callable[[K], Awaitable[V]], keep: Callable[[V], bool] = lambda _: True) -> None:
        self._load = load
        self._keep = keep
        self._values: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K) -> V:
        future = self._values.get(key)
        if future is None:
            future = self._values[key] = asyncio.ensure_future(self._load(key))
            future.add_done_callback(lambda done: self._settled(key, done))
        elif future.done():
            return future.result()
        return await asyncio.shield(future)

    def _settled(self, key: K, future: asyncio.Future[V]) -> None:
        failed = future.cancelled() or future.exception() is not None
        if (failed or not self._keep(future.result())) and self._values.get(key) is future:
            del self._values[key]
