"""Latency to answer an Adaptive Card vote (an `adaptiveCard/action` invoke) at a steady 100 requests/s.

Earshot runs as the real app in emulator mode (SQLite, outbox worker on; the vote goes through the core,
which records the event once), next to a bare botbuilder bot (CloudAdapter + an ActivityHandler that only
answers the invoke) on the same HTTP path. Each server runs in its own process; requests are sent open-loop
(on schedule, not after the previous answer), so queueing shows in the figures.

    python -m bench.teams_turn [--quick]

The last line printed is one JSON object: p50_ms, p99_ms, bare_botbuilder_p50_ms, bare_botbuilder_p99_ms,
ratio_to_bare_botbuilder (Earshot's p99 over the bare bot's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.postgres import free_port

RATE = 100
CHANNEL = "19:9f1e6b2c7d8a4e3f5a0b1c2d3e4f5a6b@thread.tacv2"


def vote(n: int) -> dict[str, Any]:
    return {
        "type": "invoke", "name": "adaptiveCard/action", "id": f"f:bench-{n}", "channelId": "msteams",
        "serviceUrl": "http://127.0.0.1:9/", "replyToId": "1709540000001",
        "from": {"id": f"29:voter-{n % 500}", "name": "Voter"},
        "recipient": {"id": "28:bench-bot", "name": "Earshot"},
        "conversation": {"id": f"{CHANNEL};messageid=1709540000001", "conversationType": "channel", "isGroup": True,
                         "tenantId": "t"},
        "channelData": {"tenant": {"id": "t"}},
        "value": {"action": {"type": "Action.Execute", "verb": "vote:12",
                             "data": {"action_id": "vote:12", "value": str(n % 5 + 1)}}, "trigger": "manual"},
    }


def serve_earshot(port: int) -> None:
    from aiohttp import web

    from adapters.runtime import Runtime
    from adapters.web import build_app
    from bot.adapter import Responder
    from bot.cards import text_card
    from bot.config import load_settings
    from bot.events import ActionEvent

    database = Path(tempfile.mkdtemp(prefix="earshot-bench-")) / "bench.db"
    runtime = Runtime(load_settings(DATABASE_URL=f"sqlite+aiosqlite:///{database}", EARSHOT_SANDBOX=False,
                                    EARSHOT_TEAMS_EMULATOR=True))  # unauthenticated, like the bare botbuilder bot

    async def on_vote(event: ActionEvent, responder: Responder) -> None:
        await responder.private(text_card(f"Your {event.value} is in."))

    runtime.core.handlers.actions["vote"] = on_vote
    web.run_app(build_app(runtime), host="127.0.0.1", port=port, print=None, access_log=None)


def serve_bare(port: int) -> None:
    from aiohttp import web
    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import Activity, AdaptiveCardInvokeResponse, AdaptiveCardInvokeValue

    class Config:
        APP_ID = ""
        APP_PASSWORD = ""

    class VoteBot(ActivityHandler):
        async def on_adaptive_card_invoke(self, turn_context: TurnContext,
                                          invoke_value: AdaptiveCardInvokeValue) -> AdaptiveCardInvokeResponse:
            # botbuilder's model types `value` as an object, so the bare bot answers with a one-line card
            return AdaptiveCardInvokeResponse(status_code=200, type="application/vnd.microsoft.card.adaptive",
                                              value={"type": "AdaptiveCard", "version": "1.5",
                                                     "body": [{"type": "TextBlock", "text": "Your vote is in."}]})

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = VoteBot()

    async def messages(request: web.Request) -> web.Response:
        # CloudAdapter.process() would serialize ActivityHandler's already serialized invoke body a second time
        # and answer 500 (botbuilder 4.17.1), so the bare bot takes the same path as Earshot's route
        activity = Activity().deserialize(await request.json())
        response = await adapter.process_activity(request.headers.get("Authorization", ""), activity, bot.on_turn)
        if response is None:
            return web.Response(status=201)
        return web.json_response(response.body, status=response.status)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(url, json=vote(-1)) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def load(url: str, seconds: float, first_id: int) -> list[float]:
    """Open-loop: request n leaves at start + n/RATE whatever happened before. Latencies in ms."""
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(n: int, due: float) -> None:
            nonlocal failures
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body = json.dumps(vote(first_id + n))
            started = time.perf_counter()
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                answer = await response.json()
                if response.status != 200 or answer.get("statusCode") != 200:
                    failures += 1
            latencies.append((time.perf_counter() - started) * 1000)

        start = time.perf_counter() + 0.1
        total = int(seconds * RATE)
        await asyncio.gather(*(one(n, start + n / RATE) for n in range(total)))
    if failures:
        raise RuntimeError(f"{failures} of {total} votes were not answered with 200")
    return latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


async def measure(kind: str, seconds: float, warmup: float) -> list[float]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.teams_turn", "--serve", kind,
                                                   "--port", str(port))
    url = f"http://127.0.0.1:{port}/api/messages"
    try:
        await wait_until_up(url)
        await load(url, warmup, first_id=1_000_000)
        return await load(url, seconds, first_id=0)
    finally:
        process.terminate()
        await process.wait()


async def main(quick: bool) -> dict[str, float]:
    seconds, warmup = (15, 3) if quick else (60, 5)
    earshot = await measure("earshot", seconds, warmup)
    bare = await measure("bare", seconds, warmup)
    result = {
        "p50_ms": round(percentile(earshot, 50), 2),
        "p99_ms": round(percentile(earshot, 99), 2),
        "bare_botbuilder_p50_ms": round(percentile(bare, 50), 2),
        "bare_botbuilder_p99_ms": round(percentile(bare, 99), 2),
        "requests_each": len(earshot),
        "rate_per_s": RATE,
    }
    result["ratio_to_bare_botbuilder"] = round(result["p99_ms"] / result["bare_botbuilder_p99_ms"], 2)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 s per bot instead of 60 s (under a minute)")
    parser.add_argument("--serve", choices=("earshot", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        (serve_earshot if args.serve == "earshot" else serve_bare)(args.port)
    else:
        figures = asyncio.run(main(args.quick))
        print(f"Earshot vote invoke at {RATE}/s: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")
        print(f"bare botbuilder:            p50 {figures['bare_botbuilder_p50_ms']} ms, "
              f"p99 {figures['bare_botbuilder_p99_ms']} ms")
        print(json.dumps(figures))
