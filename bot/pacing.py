"""Per-conversation and per-platform pacing (token buckets), so the outbox stays inside rate limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Pacing:
    """A platform's limits: per conversation (rate per second, burst) and across the whole workspace."""

    per_target_rate: float
    per_target_burst: int
    global_rate: float
    global_burst: int
    edit_interval: float | None = None
    """Seconds between edits of one message (bot.outbox.Outbox.update); None: the outbox's default, which keeps
    a live tally's edits inside Slack's and Teams' limits. A local page with no such limit sets 0."""


class _Bucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now
        self.blocked_until = 0.0

    def wait_time(self, now: float) -> float:
        """Seconds until a token is free (0 if now), after refilling."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if now < self.blocked_until:
            return self.blocked_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class Pacer:
    """Waits until both the conversation's and the platform's bucket have a token, then takes them."""

    def __init__(self, policies: dict[str, Pacing], clock: Callable[[], float] = time.monotonic) -> None:
        self._policies = policies
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, key: str, rate: float, burst: int) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, burst, self._clock())
        return bucket

    def _pair(self, platform: str, pace_key: str) -> tuple[_Bucket, _Bucket]:
        policy = self._policies[platform]
        return (
            self._bucket(pace_key, policy.per_target_rate, policy.per_target_burst),
            self._bucket(f"{platform}:*", policy.global_rate, policy.global_burst),
        )

    def delay(self, platform: str, pace_key: str) -> float:
        """Seconds before a message to this conversation may go, without taking a token."""
        now = self._clock()
        return max(b.wait_time(now) for b in self._pair(platform, pace_key))

    async def acquire(self, platform: str, pace_key: str) -> None:
        buckets = self._pair(platform, pace_key)
        while True:
            now = self._clock()
            delay = max(b.wait_time(now) for b in buckets)
            if delay <= 0:
                for bucket in buckets:
                    bucket.tokens -= 1
                return
            await asyncio.sleep(delay)

    def hold(self, platform: str, pace_key: str, seconds: float) -> None:
        """The platform said 429 with Retry-After: nothing more to this conversation for `seconds`."""
        target, _ = self._pair(platform, pace_key)
        target.blocked_until = max(target.blocked_until, self._clock() + seconds)
