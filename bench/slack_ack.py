"""How fast Earshot answers a signed Slack `block_actions` vote, next to a bare bolt app that only acks.

    python -m bench.slack_ack [--quick] [--rate 200] [--seconds 20]

Each app runs in its own process on loopback; this process is the load generator (open loop: request i is due
at start + i/rate, and its latency counts from when it was due, so a stalled server cannot hide its queue).
Earshot runs the real app (SQLite, the delivery worker on) with a real pulse ("Ship it on Friday?", yes/no,
named): each vote goes through the core's once-only event key, the ballot box (group commit) and the
coalesced refresh of the card through the outbox, and the voter gets a private confirmation. The
bare app is a bolt AsyncApp on the same path, same signing secret and the same `process_before_response=True`
that Earshot uses, with one listener: `await ack()`. A fake Web API on loopback answers auth.test and the
chat.update calls. Phases alternate (Earshot, bare, Earshot, bare) so drift hits both. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

SECRET = "bench-signing-secret-0123456789ab"
TOKEN = "xoxb-bench"
CHANNEL = "C0BENCH01"
CARD_TS = "1700000000.000100"
PATH = "/slack/events"


# -- the servers (child processes) ----------------------------------------------------------------------
def _quiet() -> None:
    logging.basicConfig(level=logging.ERROR)


async def _serve_earshot(port: int, api_url: str, database: str) -> None:
    from datetime import date

    from adapters.heap import freeze_startup_heap
    from adapters.runtime import Runtime
    from adapters.web import build_app
    from bot.config import load_settings
    from bot.events import Person
    from bot.pulses.spec import parse_one_line

    runtime = Runtime(load_settings(DATABASE_URL=database, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
                                    SLACK_API_URL=api_url, EARSHOT_SANDBOX=False))

    async def launch_pulse(_app: web.Application) -> None:
        """The real pulse feature: run 1, question 1, posted to CHANNEL (the fake API answers with CARD_TS)."""
        spec = parse_one_line(['"Ship it on Friday?"', "yesno"], CHANNEL, "UTC", date.today())
        await runtime.features.pulses.pulses.launch(spec, Person("slack", "U0BENCHBOSS"), CHANNEL)

    app = build_app(runtime)
    app.on_startup.append(launch_pulse)
    app.on_startup.append(freeze_startup_heap)  # as `earshot serve` does
    await _run(app, port)


async def _serve_bare(port: int, api_url: str) -> None:
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=api_url), signing_secret=SECRET,
                    process_before_response=True)

    @bolt.action(re.compile(".+"))
    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post(PATH, events)
    await _run(app, port)


async def _run(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("READY", flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    finally:
        await runner.cleanup()


# -- the fake Web API and the load (this process) -------------------------------------------------------
async def _fake_api(port: int) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        if request.match_info["method"] == "auth.test":
            return web.json_response({"ok": True, "user_id": "UBENCHBOT", "bot_id": "BBENCH", "team_id": "T0BENCH"})
        if request.match_info["method"] == "conversations.open":  # the author's live results arrive by DM
            return web.json_response({"ok": True, "channel": {"id": "D0BENCHBOSS"}})
        return web.json_response({"ok": True, "channel": CHANNEL, "ts": CARD_TS})

    app = web.Application()
    app.router.add_route("*", "/api/{method}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vote(n: int, response_url: str) -> tuple[bytes, dict[str, str]]:
    from slack_sdk.signature import SignatureVerifier

    payload = {
        "type": "block_actions", "user": {"id": f"U{n % 500:08d}", "team_id": "T0BENCH"}, "api_app_id": "A0BENCH",
        "team": {"id": "T0BENCH", "domain": "bench"}, "trigger_id": f"{n}.{time.time_ns()}.bench",
        "container": {"type": "message", "message_ts": CARD_TS, "channel_id": CHANNEL, "is_ephemeral": False},
        "channel": {"id": CHANNEL, "name": "bench"}, "response_url": response_url,
        "actions": [{"type": "button", "action_id": "pulse:vote:1:1#0", "block_id": "b1", "value": "yes" if n % 3
                     else "no", "text": {"type": "plain_text", "text": "Yes"}, "action_ts": f"{time.time():.6f}"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
                           "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=stamp,
                                                                                             body=body)}


async def _load(session: aiohttp.ClientSession, url: str, rate: float, seconds: float,
                response_url: str) -> tuple[list[float], int]:
    """Open-loop load: returns latencies in ms (from each request's due time) and the count of non-200s."""
    requests = [_vote(n, response_url) for n in range(int(rate * seconds))]  # signed up front: costs nothing later
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.05

    async def one(n: int) -> None:
        nonlocal errors
        due = start + n / rate
        body, headers = requests[n]
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                ok = response.status == 200
        except aiohttp.ClientError:
            ok = False
        latencies.append((time.perf_counter() - due) * 1000)
        errors += not ok

    await asyncio.gather(*(one(n) for n in range(len(requests))))
    return latencies, errors


async def _drained(session: aiohttp.ClientSession, base: str, expected: int, limit: float = 120.0) -> float:
    """Seconds until Earshot has handled `expected` votes in all (its /metrics says so): the work behind the
    acks. Waiting for it also keeps that work from running during the bare app's phase."""
    started = time.perf_counter()
    pattern = re.compile(r'^earshot_events_total\{[^}]*platform="slack"[^}]*type="ActionEvent"[^}]*\} (\S+)$', re.M)
    while time.perf_counter() - started < limit:
        async with session.get(f"{base}/metrics") as response:
            handled = sum(float(v) for v in pattern.findall(await response.text()))
        if handled >= expected:
            break
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _spawn(kind: str, port: int, api_url: str, database: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.slack_ack", "--serve", kind, "--port", str(port), "--api", api_url,
         "--database", database], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1], env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != "READY":
        child.kill()
        raise RuntimeError(f"the {kind} server did not start: {line!r}")
    return child


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    api_port = _free_port()
    fake = await _fake_api(api_port)
    api_url = f"http://127.0.0.1:{api_port}/api/"
    workdir = tempfile.mkdtemp(prefix="earshot-bench-")
    database = f"sqlite+aiosqlite:///{workdir}/bench.db"
    ports = {"earshot": _free_port(), "bare": _free_port()}
    loop = asyncio.get_running_loop()
    children = {kind: await loop.run_in_executor(None, _spawn, kind, port, api_url, database)
                for kind, port in ports.items()}
    results: dict[str, list[float]] = {"earshot": [], "bare": []}
    errors = {"earshot": 0, "bare": 0}
    drain: list[float] = []
    sent = 0
    try:
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as session:
            earshot = f"http://127.0.0.1:{ports['earshot']}"
            for kind, port in ports.items():  # warm up: first auth.test, imports, connection pool
                warm, _ = await _load(session, f"http://127.0.0.1:{port}{PATH}", args.rate, args.warmup,
                                      f"{api_url}response")
                if kind == "earshot":
                    sent += len(warm)
                    await _drained(session, earshot, sent)
            for phase in range(args.rounds):
                for kind, port in ports.items():
                    latencies, failed = await _load(session, f"http://127.0.0.1:{port}{PATH}", args.rate,
                                                    args.seconds, f"{api_url}response")
                    results[kind] += latencies
                    errors[kind] += failed
                    line = (f"round {phase + 1} {kind:8s} n={len(latencies)} p50={_percentile(latencies, 0.5):.2f}ms "
                            f"p99={_percentile(latencies, 0.99):.2f}ms errors={failed}")
                    if kind == "earshot":
                        sent += len(latencies)
                        drain.append(await _drained(session, earshot, sent))
                        line += f" work_done_{drain[-1]:.1f}s_after_the_last_ack"
                    print(line, flush=True)
    finally:
        for child in children.values():
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=30)
        await fake.cleanup()
    p99, bare_p99 = _percentile(results["earshot"], 0.99), _percentile(results["bare"], 0.99)
    return {
        "p50_ms": round(_percentile(results["earshot"], 0.5), 2),
        "p99_ms": round(p99, 2),
        "bare_bolt_p50_ms": round(_percentile(results["bare"], 0.5), 2),
        "bare_bolt_p99_ms": round(bare_p99, 2),
        "ratio_to_bare_bolt": round(p99 / bare_p99, 2),
        "max_ms": round(max(results["earshot"]), 2),
        "mean_ms": round(statistics.fmean(results["earshot"]), 2),
        "requests": len(results["earshot"]),
        "errors": errors["earshot"],
        "work_drained_after_s": round(max(drain), 2),
        "bare_bolt_errors": errors["bare"],
        "rate_per_s": args.rate,
        "database": "sqlite",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.slack_ack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short phases: finishes within a minute")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--seconds", type=float, help="length of each measured phase")
    parser.add_argument("--serve", choices=("earshot", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _quiet()
        server = _serve_earshot(args.port, args.api, args.database) if args.serve == "earshot" else _serve_bare(
            args.port, args.api)
        asyncio.run(server)
        return
    args.seconds = args.seconds or (5.0 if args.quick else 30.0)
    args.warmup = 1.5 if args.quick else 5.0
    args.rounds = 2
    print(json.dumps(asyncio.run(_bench(args))))


if __name__ == "__main__":
    main()
