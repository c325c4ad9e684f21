"""Delighted: webhook payloads (published and variations), its signature, the list API against a fake Delighted
on loopback (pagination, cursor, 429), and one signed delivery end to end."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from sqlmodel import select

from adapters.sources.base import BadPayload, Delivery, Page, Refused, RetryAfter, SourceConfig, SourceError
from adapters.sources.delighted import KIND, PER_PAGE, pull, translate, verify
from adapters.sources.pulling import PullRunner
from adapters.sources.registry import add_source, secret_box
from storage.tables import Feedback
from tests.support.server import running_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "delighted"
API_KEY = "delighted-api-key-0123"
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(raw: bytes, key: str = API_KEY) -> str:
    """As Delighted signs: sha256= + hex HMAC-SHA256 of the raw body, keyed with the project's API key."""
    return "sha256=" + hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()


def delivery(raw: bytes, headers: dict[str, str] | None = None) -> Delivery:
    return Delivery(method="POST", headers=CIMultiDict(headers or {}), body=raw, query={}, received_at=NOW)


def config(api_url: str = "") -> SourceConfig:
    return SourceConfig(name="nps", kind="delighted", secrets={"secret": API_KEY},
                        options={"api_url": api_url} if api_url else {})


def items(raw: bytes) -> list[dict[str, Any]]:
    return translate(delivery(raw), config()).items


def test_published_example() -> None:
    assert items(body("webhook_example.json")) == [{
        "id": "5435", "source": "nps", "text": "Your service is fast and flawless!", "score": 9, "score_type": "nps",
        "customer": {"name": "Charlie Gravis", "email": "charlie_gravis@example.com"},
        "url": "https://delighted.com/r/5pFDpmlyC8GUc5oxU6USto5VonSKAqOa", "created_at": "2018-01-16T18:48:48+00:00",
        "updated_at": "2018-01-16T18:58:48+00:00",
    }]


def test_created_then_edited_carry_the_same_id() -> None:
    (created,) = items(body("variation_created_no_comment.json"))
    (edited,) = items(body("variation_edited_comment.json"))
    assert created["id"] == edited["id"] == "5435"
    assert (created["text"], created["score"]) == ("", 9)
    assert (edited["text"], edited["score"]) == ("Your service is fast, but the invoice page is slow.", 7)


def test_csat_with_person_properties_and_tags() -> None:
    (item,) = items(body("variation_csat_thai_properties.json"))
    assert (item["score"], item["score_type"], item["text"]) == (2, "csat", "การจัดส่งล่าช้ามาก")
    assert item["customer"] == {"name": "สมชาย", "email": "somchai@example.co.th", "plan": "Enterprise",
                                "segment": "Retail", "country": "TH"}
    assert item["tags"] == ["shipping"]


def test_locale_becomes_the_language_and_a_wild_time_is_left_out() -> None:
    payload = json.loads(body("variation_csat_thai_properties.json"))
    payload["event_data"]["person_properties"]["locale"] = "th"
    payload["event_data"]["created_at"] = 10**20
    (item,) = items(json.dumps(payload).encode())
    assert item["language"] == "th" and "created_at" not in item
    payload["event_data"]["person_properties"]["locale"] = "not a locale"
    assert "language" not in items(json.dumps(payload).encode())[0]


@pytest.mark.parametrize(("survey_type", "expected"), [
    ("enps", "nps"), ("smileys", "csat"), ("ces", "ces"), ("five_star", "rating"), ("thumbs", None)])
def test_survey_types_map_onto_scales(survey_type: str, expected: str | None) -> None:
    payload = json.loads(body("webhook_example.json"))
    payload["event_data"] |= {"survey_type": survey_type, "score": 1}
    (item,) = items(json.dumps(payload).encode())
    assert item.get("score_type") == expected and ("score" in item) == (expected is not None)


def test_unsubscribes_store_nothing_and_junk_is_refused() -> None:
    assert items(body("variation_unsubscribe.json")) == []
    for raw in (b"{", b"[]", b'{"event_type": "survey_response.created"}',
                b'{"event_type": "survey_response.created", "event_data": {"id": true}}'):
        with pytest.raises(BadPayload):
            items(raw)


def test_signature() -> None:
    raw = body("webhook_example.json")
    verify(delivery(raw, {"X-Delighted-Webhook-Signature": sign(raw)}), config())
    for headers in ({"X-Delighted-Webhook-Signature": sign(raw, "another key")},
                    {"X-Delighted-Webhook-Signature": sign(raw + b"\n")},
                    {},
                    {"X-Delighted-Webhook-Signature": sign(raw).removeprefix("sha256=")},
                    {"X-Delighted-Webhook-Signature": sign(raw).replace("sha256=", "sha1=")}):
        with pytest.raises(Refused):
            verify(delivery(raw, headers), config())
    with pytest.raises(Refused):
        verify(delivery(raw.replace(b"flawless", b"flawed"), {"X-Delighted-Webhook-Signature": sign(raw)}), config())


class FakeDelighted:
    """GET /v1/survey_responses.json as Delighted documents it: basic auth with the API key, per_page, page,
    updated_since (inclusive), order=asc:updated_at, expand[]=person; 429 with Retry-After when told to."""

    def __init__(self) -> None:
        self.responses: dict[str, dict[str, Any]] = {}
        self.throttle: int = 0
        self.answer: web.Response | None = None
        self.requests: list[dict[str, str]] = []

    def add(self, rid: int, updated_at: int, comment: str = "ok") -> None:
        self.responses[str(rid)] = {
            "id": str(rid), "person": str(1000 + rid), "survey_type": "nps", "score": rid % 11, "comment": comment,
            "permalink": f"https://app.delighted.com/r/{rid}", "created_at": updated_at - 60,
            "updated_at": updated_at, "person_properties": {"Plan": "Pro"}, "notes": [], "tags": []}

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.query))
        expected = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"status": 401, "message": "Unauthorized"}, status=401)
        if self.throttle:
            self.throttle -= 1
            return web.json_response({"status": 429}, status=429, headers={"Retry-After": "7"})
        if self.answer is not None:
            return self.answer
        assert request.query["order"] == "asc:updated_at"
        since = int(request.query.get("updated_since", 0))
        per_page, page = int(request.query["per_page"]), int(request.query["page"])
        assert per_page <= 100
        chosen = sorted((r for r in self.responses.values() if r["updated_at"] >= since),
                        key=lambda r: (r["updated_at"], int(r["id"])))
        out = [dict(r) for r in chosen[(page - 1) * per_page: page * per_page]]
        if request.query.get("expand[]") == "person":
            for r in out:
                r["person"] = {"id": r["person"], "name": f"Person {r['id']}", "email": f"p{r['id']}@example.com"}
        return web.json_response(out)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeDelighted, str, aiohttp.ClientSession]]:
    vendor = FakeDelighted()
    app = web.Application()
    app.router.add_get("/v1/survey_responses.json", vendor.handle)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        yield vendor, str(server.make_url("")), http


async def pull_all(http: aiohttp.ClientSession, api: str, cursor: str | None) -> tuple[list[str], str | None, int]:
    """Pull as the runner does: again at once while `more`; the ids taken, the last cursor, the pulls made."""
    taken: list[str] = []
    pulls = 0
    while True:
        page: Page = await pull(http, config(api), cursor, NOW)
        pulls += 1
        taken += [item["id"] for item in page.items]
        cursor = page.cursor
        if not page.more:
            return taken, cursor, pulls


async def test_pull_pages_through_and_never_takes_a_response_twice(fake) -> None:  # type: ignore[no-untyped-def]
    vendor, api, http = fake
    for rid in range(1, 231):
        vendor.add(rid, 1_700_000_000 + rid // 3)  # three responses a second
    taken, cursor, pulls = await pull_all(http, api, None)
    assert sorted(taken, key=int) == [str(r) for r in range(1, 231)] and len(taken) == 230
    assert pulls == 3
    page = await pull(http, config(api), cursor, NOW)
    assert page.items == [] and not page.more
    vendor.add(17, 1_800_000_000, comment="edited")  # an edit: a later updated_at, the same id
    vendor.add(500, 1_800_000_000)
    page = await pull(http, config(api), page.cursor, NOW)
    assert [(i["id"], i["text"]) for i in page.items] == [("17", "edited"), ("500", "ok")]
    assert page.items[0]["customer"] == {"name": "Person 17", "email": "p17@example.com", "plan": "Pro"}
    assert (await pull(http, config(api), page.cursor, NOW)).items == []


async def test_more_responses_in_one_second_than_a_page_holds(fake) -> None:  # type: ignore[no-untyped-def]
    vendor, api, http = fake
    for rid in range(1, PER_PAGE + 51):
        vendor.add(rid, 1_750_000_000)
    taken, cursor, _ = await pull_all(http, api, None)
    assert sorted(taken, key=int) == [str(r) for r in range(1, PER_PAGE + 51)]
    vendor.add(999, 1_750_000_000)  # one more in that same second
    again, cursor, _ = await pull_all(http, api, cursor)
    assert again == ["999"]
    assert (await pull_all(http, api, cursor))[0] == []


async def test_rate_limit_and_bad_key(fake) -> None:  # type: ignore[no-untyped-def]
    vendor, api, http = fake
    vendor.add(1, 1_700_000_000)
    vendor.throttle = 1
    with pytest.raises(RetryAfter) as waited:
        await pull(http, config(api), None, NOW)
    assert waited.value.seconds == 7
    assert [i["id"] for i in (await pull(http, config(api), None, NOW)).items] == ["1"]
    for answer, reason in ((web.json_response({"status": 500}, status=500), "answered 500"),
                           (web.json_response({"not": "a list"}), "not a list"),
                           (web.Response(text="<html>", content_type="text/html"), "could not be read")):
        vendor.answer = answer
        with pytest.raises(SourceError, match=reason):
            await pull(http, config(api), None, NOW)
    vendor.answer = web.json_response({"status": 503}, status=503, headers={"Retry-After": "120"})
    with pytest.raises(RetryAfter) as maintenance:
        await pull(http, config(api), None, NOW)
    assert maintenance.value.seconds == 120
    vendor.answer = None
    with pytest.raises(SourceError, match="could not be read"):
        await pull(http, config("http://127.0.0.1:9"), None, NOW)  # nothing listens there
    wrong = SourceConfig(name="nps", kind="delighted", secrets={"secret": "not-the-key"}, options={"api_url": api})
    with pytest.raises(SourceError, match="401") as error:
        await pull(http, wrong, None, NOW)
    assert "not-the-key" not in str(error.value)


async def test_end_to_end_created_then_updated(db_url: str) -> None:
    async with running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        await add_source(running.runtime.db, box, KIND, "nps", {"secret": API_KEY}, {})
        url = f"{running.url}/api/sources/nps"
        async with aiohttp.ClientSession() as http:
            sends = (("variation_created_no_comment.json", "accepted"), ("webhook_example.json", "updated"),
                     ("webhook_example.json", "duplicates"))
            for name, counted in sends:
                raw = body(name)
                async with http.post(url, data=raw, headers={"X-Delighted-Webhook-Signature": sign(raw)}) as answer:
                    assert answer.status == 202, await answer.text()
                    assert (await answer.json()).get(counted) == 1
            raw = body("webhook_example.json")
            async with http.post(url, data=raw, headers={"X-Delighted-Webhook-Signature": sign(raw, "x")}) as answer:
                assert answer.status == 401
        async with running.runtime.db.session() as session:
            (stored,) = list(await session.exec(select(Feedback)))
        assert (stored.external_id, stored.text, stored.score) == ("5435", "Your service is fast and flawless!", 9)
        assert stored.url == "https://delighted.com/r/5pFDpmlyC8GUc5oxU6USto5VonSKAqOa"


async def test_end_to_end_pulled_by_the_runner(db_url: str, fake) -> None:  # type: ignore[no-untyped-def]
    """Registered once, pulled by the pull runner into the database: every response once, then an edit updates."""
    vendor, api, _ = fake
    for rid in range(1, 131):
        vendor.add(rid, 1_700_000_000 + rid)
    clock = [datetime(2030, 1, 1, tzinfo=UTC)]  # far ahead of the runtime's own runner: each tick finds it due

    async def tick() -> int:
        clock[0] += timedelta(days=1)
        return await runner.tick()

    async with running_app(db_url, demo=False) as running:
        keys = running.runtime.core.services.keys
        await add_source(running.runtime.db, secret_box(keys), KIND, "nps", {"secret": API_KEY}, {"api_url": api})
        runner = PullRunner(running.runtime.db, keys, running.runtime.features.stations.ingest.ingest,
                            clock=lambda: clock[0])
        try:
            assert await tick() == 130  # two pages in one tick: the first was full
            assert await tick() == 0
            vendor.add(42, 1_800_000_000, comment="edited later")
            assert await tick() == 1
        finally:
            await runner.close()
        async with running.runtime.db.session() as session:
            stored = {f.external_id: f for f in await session.exec(select(Feedback))}
    assert len(stored) == 130 and stored["42"].text == "edited later"
    assert stored["7"].customer is not None and stored["7"].customer["plan"] == "Pro"
