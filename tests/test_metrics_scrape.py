"""What an operator scrapes from /metrics after real traffic: ingest, deliveries by outcome, outbox depth and
age, acknowledgement latency per platform, scheduler runs and leadership.

Every figure is checked against what happened (and, for the outbox, against the table itself), before and
after, so a series that merely exists at zero cannot pass for one that counts."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func
from sqlmodel import col, select

from bot.adapter import DeliveryError
from bot.cards import Card
from bot.events import MessageRef, Target
from storage.tables import Delivery
from tests.support.server import Running, running_app
from tests.support.waiting import eventually

TOKEN = "metrics-token"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(session: aiohttp.ClientSession, url: str) -> Samples:
    async with session.get(f"{url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def gauge(samples: Samples, name: str) -> float:
    return samples[(name, frozenset())]


async def outbox_rows(running: Running) -> dict[str, int]:
    """Deliveries by status, straight from the table the gauges describe."""
    async with running.runtime.db.session() as session:
        rows = await session.exec(select(Delivery.status, func.count()).group_by(col(Delivery.status)))
        return {status: count for status, count in rows.all()}


async def test_metrics_after_real_traffic(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_app(db_url, EARSHOT_INGEST_TOKEN=TOKEN) as running, \
            await running.sandbox_session() as session:
        assert isinstance(running, Running)
        before = await scrape(session, running.url)
        assert gauge(before, "earshot_outbox_depth") == 0 and gauge(before, "earshot_outbox_oldest_seconds") == 0
        ok_runs = ("earshot_scheduler_runs_total", frozenset({("job", "pulse-deadlines"), ("outcome", "ok")}))
        assert before[ok_runs] == 0  # the series exists from the start, at zero: not yet a run
        assert value(before, "earshot_ack_seconds_count") == 0
        assert value(before, "earshot_deliveries_total") == 0

        # A platform that is slow to answer (held until `answer` is set), refuses one post once (retried) and
        # cannot post in #support at all (failed for good; the station's creator is told by DM).
        sandbox = running.runtime.adapters["sandbox"]
        real_send = sandbox.send
        answer = asyncio.Event()
        refused: list[str] = []

        async def send(target: Target, card: Card, key: str | None = None) -> MessageRef:
            if target.channel_id == "C-support":
                raise DeliveryError("not_in_channel", retryable=False)
            if not refused:
                refused.append(key or "")
                raise DeliveryError("platform busy", retryable=True)
            await answer.wait()
            return await real_send(target, card, key)

        monkeypatch.setattr(sandbox, "send", send)

        # Ingest: 3 accepted (each matches the three demo stations: 9 deliveries), 1 rejected, then 1 duplicate.
        items = [{"id": f"m{n}", "source": "nps-survey", "text": "Checkout failed twice", "score": 2,
                  "score_type": "nps", "product_area": "checkout"} for n in range(3)]
        items.append({"id": "bad", "source": "nps-survey"})  # no text: rejected
        posted = time.monotonic()
        async with session.post(f"{running.url}/api/feedback", data=json.dumps(items),
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 202
            assert (await response.json())["accepted"] == 3
        acknowledged = time.monotonic()
        async with session.post(f"{running.url}/api/feedback", data=json.dumps(items[0]),
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 202
            assert (await response.json())["duplicates"] == 1
        async with session.post(f"{running.url}/sandbox/api/send",
                                json={"as": "ana", "channel_id": "C-cx", "text": "/station help"}) as r:
            assert r.status == 200

        # While the platform holds every post: the outbox is as deep as the table says (3 to #cx, 3 to #product,
        # 1 failure DM: three failures in one place and for one reason are reported once), and its oldest item has
        # been waiting since the ingest.
        async def held() -> bool:
            rows = await outbox_rows(running)
            samples = await scrape(session, running.url)
            return (rows.get("failed") == 3 and rows.get("pending", 0) + rows.get("sending", 0) == 7
                    and value(samples, "earshot_deliveries_total", outcome="retried") == 1)

        await eventually(held, 15)
        await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - acknowledged)))
        waiting = await scrape(session, running.url)
        since_post = time.monotonic() - posted
        assert gauge(waiting, "earshot_outbox_depth") == 7
        assert 0.4 <= gauge(waiting, "earshot_outbox_oldest_seconds") <= since_post + 2
        assert value(waiting, "earshot_deliveries_total", outcome="sent") == 0
        assert value(waiting, "earshot_deliveries_total", outcome="failed") == 3

        # The platform answers: everything goes out, and the gauges fall back to zero.
        answer.set()

        async def drained() -> bool:
            return gauge(await scrape(session, running.url), "earshot_outbox_depth") == 0

        await eventually(drained, 20)

        # A real firing of a scheduled job, by the scheduler (brought forward instead of waiting its interval).
        async def leading() -> bool:
            return gauge(await scrape(session, running.url), "earshot_scheduler_leader") == 1

        await eventually(leading, 15)
        job = running.runtime.scheduler.get_job("pulse-deadlines")
        assert job is not None
        job.modify(next_run_time=datetime.now(UTC))

        async def fired() -> bool:
            return value(await scrape(session, running.url), "earshot_scheduler_runs_total",
                         job="pulse-deadlines", outcome="ok") > 0

        await eventually(fired, 15)
        samples = await scrape(session, running.url)
        rows = await outbox_rows(running)

    assert set(rows) <= {"sent", "failed"} and rows["failed"] == 3
    assert gauge(samples, "earshot_outbox_depth") == 0
    assert gauge(samples, "earshot_outbox_oldest_seconds") == 0
    # Deliveries by outcome, each matching the table: #cx and #product sent, #support failed, its creator told.
    sent = value(samples, "earshot_deliveries_total", platform="sandbox", kind="send", outcome="sent")
    assert sent == rows["sent"] == 6 + 1
    assert value(samples, "earshot_deliveries_total", platform="sandbox", kind="send", outcome="retried") == 1
    assert value(samples, "earshot_deliveries_total", platform="sandbox", kind="send", outcome="failed") == 3
    assert len(refused) == 1
    # Ingest counts by outcome.
    assert value(samples, "earshot_ingest_items_total", outcome="accepted") == 3
    assert value(samples, "earshot_ingest_items_total", outcome="rejected") == 1
    assert value(samples, "earshot_ingest_items_total", outcome="duplicate") == 1
    # Acknowledgement latency: one observation per inbound POST, each taking some time, none on scrapes.
    assert value(samples, "earshot_ack_seconds_count", platform="ingest") == 2
    assert value(samples, "earshot_ack_seconds_count", platform="sandbox") == 1
    assert value(samples, "earshot_ack_seconds_sum", platform="ingest") > 0
    assert value(samples, "earshot_ack_seconds_bucket", platform="ingest", le="+Inf") == 2
    # The scheduler: a counted run with its outcome, none failed, and this process leads.
    assert value(samples, "earshot_scheduler_runs_total", job="pulse-deadlines", outcome="ok") >= 1
    assert value(samples, "earshot_scheduler_runs_total", job="pulse-deadlines", outcome="error") == 0
    assert gauge(samples, "earshot_scheduler_leader") == 1.0


async def test_a_strangers_posts_to_unserved_platforms_name_none_in_the_metrics(db_url: str) -> None:
    """On a Slack-only server, POSTs to /api/messages and /sandbox/api/send (404: not mounted) made
    `earshot_ack_seconds{platform="teams"}` and `{platform="sandbox"}` appear: /metrics named platforms the
    deployment doesn't run. Only served routes are timed."""
    async with running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s") as running, \
            aiohttp.ClientSession() as session:
        for path in ("/api/messages", "/sandbox/api/send", "/slack/nowhere"):
            async with session.post(f"{running.url}{path}", json={}) as response:
                assert response.status in (404, 405)
        samples = await scrape(session, running.url)
        assert value(samples, "earshot_ack_seconds_count") == 0
        assert not {dict(labels).get("platform") for (_, labels) in samples} & {"teams", "sandbox"}
