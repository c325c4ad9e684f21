"""What an operator scrapes from /metrics after real traffic: ingest, deliveries by outcome, outbox depth and
age, acknowledgement latency per platform, scheduler runs and leadership."""

from __future__ import annotations

import json

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import Running, running_app
from tests.support.waiting import eventually

TOKEN = "metrics-token"


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with session.get(f"{url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


async def test_metrics_after_real_traffic(db_url: str) -> None:
    async with running_app(db_url, EARSHOT_INGEST_TOKEN=TOKEN) as running, aiohttp.ClientSession() as session:
        assert isinstance(running, Running)
        items = [{"id": f"m{n}", "source": "nps-survey", "text": "Checkout failed twice", "score": 2,
                  "score_type": "nps", "product_area": "checkout"} for n in range(3)]
        items.append({"id": "bad", "source": "nps-survey"})  # no text: rejected
        async with session.post(f"{running.url}/api/feedback", data=json.dumps(items),
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 202
        async with session.post(f"{running.url}/sandbox/api/send",
                                data=json.dumps({"as": "ana", "channel_id": "C-cx", "text": "/station help"})) as r:
            assert r.status == 200

        async def delivered() -> bool:
            return value(await scrape(session, running.url), "earshot_deliveries_total", outcome="sent") > 0

        await eventually(delivered, 15)
        samples = await scrape(session, running.url)

    assert value(samples, "earshot_ingest_items_total", outcome="accepted") == 3
    assert value(samples, "earshot_ingest_items_total", outcome="rejected") == 1
    assert value(samples, "earshot_deliveries_total", platform="sandbox", kind="send", outcome="sent") >= 1
    assert {("earshot_outbox_depth", frozenset()), ("earshot_outbox_oldest_seconds", frozenset())} <= samples.keys()
    assert value(samples, "earshot_ack_seconds_count", platform="ingest") == 1
    assert value(samples, "earshot_ack_seconds_count", platform="sandbox") == 1
    assert ("earshot_scheduler_runs_total", frozenset({("job", "pulse-deadlines"), ("outcome", "ok")})) in samples
    assert samples[("earshot_scheduler_leader", frozenset())] == 1.0
