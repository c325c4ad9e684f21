"""One pulse as DMs to 2,000 people through a fake Slack that enforces Slack's limits.

    python -m bench.fanout [--quick]

`earshot serve` (web and worker in one process, SQLite) with Slack pointed at a fake Web API on loopback in
this process. A manager launches `/pulse "…" scale to:dm` (a signed slash command) in a channel of N people;
Earshot lists the members and queues one DM each through the outbox. The fake enforces, for chat.postMessage:

- 1 message per second per channel (burst 1) — DM channels are all distinct, so this one rarely binds;
- a workspace-wide token bucket of 480 messages a minute (8/s) with a burst of 20 — Slack documents "several
  hundred messages per minute" across a workspace without a figure, so this takes the low end of that;
- besides, 1% of calls answered 429 with `Retry-After: 1` at random, as Slack does under load.

Over a limit it answers 429 with the Retry-After that limit needs (and posts nothing). Figures: `recipients`,
`delivered` (distinct people who got the DM), `duplicates` (must be 0), `rate_limited` (429s answered),
`seconds` (first DM to last), `ideal_seconds` (the least the limits allow: (N − burst) / rate) and
`ratio_to_ideal` (target ≤ 1.25). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bench.common import emit, free_port, server_log, start_earshot, stop
from tests.slack.fake_api import FakeSlack

SECRET = "bench-fanout-signing-secret-0123"
CHANNEL = "C0FANOUT1"
BOSS = "U0BOSS0001"
PER_CHANNEL_RATE, PER_CHANNEL_BURST = 1.0, 1
WORKSPACE_RATE, WORKSPACE_BURST = 8.0, 20
RANDOM_429 = 0.01


class Bucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, float(burst), time.monotonic()

    def wait(self) -> float:
        """0 when a token is free now (it is not taken yet), else seconds until one is."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class LimitedSlack(FakeSlack):
    """The fake Web API with chat.postMessage rate limits and random 429s."""

    def __init__(self) -> None:
        super().__init__()
        self.workspace = Bucket(WORKSPACE_RATE, WORKSPACE_BURST)
        self.channels: dict[str, Bucket] = {}
        self.refused = 0
        self.rng = random.Random(5)

    async def _args(self, request: web.Request) -> dict[str, Any]:
        if "args" not in request:  # read once: the limits look at the channel before the fake answers
            request["args"] = await super()._args(request)
        return dict(request["args"])

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "chat.postMessage":
            channel = str((await self._args(request)).get("channel", ""))
            bucket = self.channels.setdefault(channel, Bucket(PER_CHANNEL_RATE, PER_CHANNEL_BURST))
            wait = max(bucket.wait(), self.workspace.wait())
            if wait == 0 and self.rng.random() < RANDOM_429:
                wait = 1.0
            if wait > 0:
                self.refused += 1
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(max(1, round(wait + 0.49)))})
            bucket.tokens -= 1
            self.workspace.tokens -= 1
        return await super()._api(request)


def slash_command(text: str) -> tuple[bytes, dict[str, str]]:
    from slack_sdk.signature import SignatureVerifier

    body = urlencode({"command": "/pulse", "text": text, "user_id": BOSS, "channel_id": CHANNEL, "team_id": "T0001",
                      "trigger_id": f"{time.time_ns()}.bench", "response_url": "http://127.0.0.1:9/unused"})
    stamp = str(int(time.time()))
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
                           "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=stamp,
                                                                                             body=body)}


async def run(recipients: int, limit_seconds: float) -> dict[str, Any]:
    people = [f"U{n:08d}" for n in range(recipients)]
    fake = LimitedSlack()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.url = f"http://127.0.0.1:{port}"
    fake.members[CHANNEL] = [BOSS, *people]
    for user in [BOSS, *people]:
        fake.add_user(user, user, "Europe/Berlin")
    with tempfile.TemporaryDirectory() as folder:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{Path(folder) / 'fanout.db'}", "SLACK_BOT_TOKEN": "xoxb-bench",
               "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url, "EARSHOT_ADMINS": f"slack:{BOSS}"}
        process, url = await asyncio.to_thread(start_earshot, env, "all")
        try:
            body, headers = slash_command('"Bench: how is your week?" scale to:dm')
            async with aiohttp.ClientSession() as session, session.post(f"{url}/slack/events", data=body,
                                                                        headers=headers) as response:
                assert response.status == 200, await response.text()
            deadline = time.monotonic() + limit_seconds
            while len(dms(fake)) < recipients + 1:  # the manager is a member too
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {len(dms(fake))} DMs after {limit_seconds} s")
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # anything that would come twice comes now
        except Exception:
            print(server_log(process), file=sys.stderr)
            raise
        finally:
            await asyncio.to_thread(stop, process)
            await runner.cleanup()
    posted = dms(fake)
    counts = Counter(channel for channel, _ in posted)
    times = [at for _, at in posted]
    seconds = max(times) - min(times) if times else float("nan")
    sent = len(counts)
    ideal = max(sent - WORKSPACE_BURST, 0) / WORKSPACE_RATE
    return {"recipients": recipients + 1, "delivered": sent, "duplicates": sum(counts.values()) - sent,
            "rate_limited": fake.refused, "seconds": round(seconds, 1), "ideal_seconds": round(ideal, 1),
            "ratio_to_ideal": round(seconds / ideal, 3) if ideal else None,
            "limits": f"{PER_CHANNEL_RATE:g}/s per channel; {WORKSPACE_RATE * 60:g}/min burst {WORKSPACE_BURST} "
                      f"per workspace; {RANDOM_429:.0%} random 429"}


def dms(fake: FakeSlack) -> list[tuple[str, float]]:
    """(channel, time) of every pulse DM the fake posted (the manager's live-results DM is not one)."""
    return [(str(c.args.get("channel")), c.at) for c in fake.of("chat.postMessage")
            if c.answer is not None and str(c.args.get("channel", "")).startswith("D")
            and str(c.args.get("text", "")).startswith("Pulse:")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="300 people instead of 2,000 (about 40 s)")
    args = parser.parse_args()
    recipients = 299 if args.quick else 1999  # plus the manager, who is in the channel too
    figures = asyncio.run(run(recipients, limit_seconds=120 if args.quick else 600))
    print(json.dumps(figures, indent=1), file=sys.stderr)
    emit(figures)


if __name__ == "__main__":
    main()
