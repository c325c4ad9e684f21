"""Group commit: writes that arrive while a batch is being written join the next batch.

SQLite takes one writer at a time; one transaction for many small concurrent writes (votes, events, single
ingest items) keeps latency flat where one transaction each would queue behind the lock. A batch the database
refuses for something other than an outage is written again one item at a time, so one caller's bad data
fails that caller alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from storage.failures import unavailable

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class GroupWriter(Generic[Item, Outcome]):
    def __init__(self, write: Callable[[list[Item]], Awaitable[list[Outcome]]]) -> None:
        """`write` stores a batch in one transaction and returns one outcome per item, in order."""
        self._write = write
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Outcome:
        done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._drainer is None:  # a task of its own writes batches until nobody waits, so no caller's
            self._drainer = asyncio.create_task(self._drain())  # answer waits for the batches after its own
        return await done

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                await self._flush(group)
        finally:
            self._drainer = None

    async def _flush(self, group: list[tuple[Item, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await self._write([item for item, _ in group])
        except asyncio.CancelledError:  # the process is stopping: nobody may wait forever
            for _, done in group:
                done.cancel()
            raise
        except Exception as error:  # nothing was committed
            if len(group) > 1 and not unavailable(error):  # maybe one item's data: find whose, write the rest
                for single in group:
                    await self._flush([single])
                return
            for _, done in group:  # every caller of the batch sees the failure
                if not done.done():  # a caller that gave up (its request was cancelled) needs no answer
                    done.set_exception(error)
            return
        for (_, done), outcome in zip(group, outcomes, strict=True):
            if not done.done():
                done.set_result(outcome)
