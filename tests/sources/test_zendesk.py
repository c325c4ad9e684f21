"""Zendesk: satisfaction ratings from Zendesk's published examples and a trigger's body, its webhook signature
(computed here from Zendesk's documented scheme), the List Satisfaction Ratings pull against a fake Zendesk on
loopback, and one signed webhook end to end."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from sqlmodel import select

from adapters.sources import zendesk
from adapters.sources.base import BadPayload, Delivery, Refused, RetryAfter, SourceConfig, SourceError
from adapters.sources.kinds import KINDS
from adapters.sources.registry import add_source, secret_box
from bot.feedback.items import validate
from storage.tables import Feedback
from tests.support.server import running_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "zendesk"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
CONFIG = SourceConfig(name="zd", kind="zendesk", secrets={"secret": SECRET})


def trigger_body(**rating: Any) -> bytes:
    """The body docs/sources.md gives for a trigger, as Zendesk renders its placeholders (ours, not Zendesk's)."""
    fields = {"ticket_id": "208", "score": "bad", "comment": "The reply took three days",
              "group": "Billing", "tags": "vip refund", "url": "https://acme.zendesk.com/agent/tickets/208",
              "requester": {"name": "Ana Souza", "email": "ana@example.com", "organization": "Acme Ltd"}}
    return json.dumps({"satisfaction_rating": fields | rating}, ensure_ascii=False).encode()


def delivery(body: bytes, headers: dict[str, str] | None = None, at: datetime = NOW) -> Delivery:
    return Delivery(method="POST", headers=CIMultiDict(headers or {}), body=body, query={}, received_at=at)


def signed(body: bytes, secret: str = SECRET, stamp: str = "2026-12-07T14:59:30Z") -> dict[str, str]:
    digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {"X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp}


def items(body: bytes) -> list[dict[str, Any]]:
    found = zendesk.translate(delivery(body), CONFIG).items
    for item in found:
        validate(item)  # every item meets the ingest contract
    return found


def test_the_published_list_becomes_csat_items_keyed_by_ticket() -> None:
    found = items((FIXTURES / "list_satisfaction_ratings.json").read_bytes())
    assert found == [
        {"id": "208", "source": "zd", "text": "Awesome support!", "score": 5.0, "score_type": "csat",
         "created_at": "2011-07-20T22:55:29Z", "updated_at": "2011-07-20T22:55:29Z", "product_area": "44",
         "url": "https://example.zendesk.com/agent/tickets/208"},
        {"id": "209", "source": "zd", "text": "Awesome support!", "score": 5.0, "score_type": "csat",
         "created_at": "2012-02-01T04:31:29Z", "updated_at": "2012-02-02T10:32:59Z", "product_area": "44",
         "url": "https://example.zendesk.com/agent/tickets/209"},
    ]


def test_the_published_single_rating_is_read_too() -> None:
    (item,) = items((FIXTURES / "satisfaction_rating_legacy_docs.json").read_bytes())
    assert (item["id"], item["score"], item["product_area"]) == ("208", 5.0, "44")
    assert item["url"] == "https://company.zendesk.com/agent/tickets/208"


def test_a_trigger_body_keeps_requester_group_tags_and_link() -> None:
    (item,) = items(trigger_body())
    assert item == {"id": "208", "source": "zd", "text": "The reply took three days", "score": 1.0,
                    "score_type": "csat", "created_at": NOW.isoformat(), "updated_at": None, "product_area": "Billing",
                    "url": "https://acme.zendesk.com/agent/tickets/208", "tags": ["vip", "refund"],
                    "customer": {"name": "Ana Souza", "email": "ana@example.com", "segment": "Acme Ltd"}}


@pytest.mark.parametrize(("score", "expected"), [
    ("good", 5.0), ("Bad", 1.0), ("Good, I'm satisfied", 5.0), ("Bad, I'm unsatisfied", 1.0), (4, 4.0), ("3", 3.0),
])
def test_scores_good_bad_and_the_newer_numeric_csat(score: Any, expected: float) -> None:
    (item,) = items(trigger_body(score=score))
    assert (item["score"], item["score_type"]) == (expected, "csat")


@pytest.mark.parametrize("comment", [
    "ตอบช้ามาก รอสามวัน", "پاسخ خیلی دیر رسید", "Ответ пришёл через три дня",
])
def test_other_languages_pass_through_unchanged(comment: str) -> None:
    (item,) = items(trigger_body(comment=comment))
    assert item["text"] == comment and "language" not in item  # the ingest detects it


def test_variations_no_comment_numbers_as_text_and_reasons() -> None:
    (bare,) = items(trigger_body(comment=None))
    assert bare["text"] == "" and bare["score"] == 1.0
    (number,) = items(trigger_body(comment=42, group_id=44, group=None, ticket_id=208, reason="Slow reply"))
    assert (number["text"], number["product_area"], number["id"]) == ("42", "44", "208")
    assert number["tags"] == ["vip", "refund", "reason: Slow reply"]


def test_an_edited_rating_is_the_same_item_with_the_new_score() -> None:
    (first,) = items(trigger_body(score="good", comment="Quick"))
    (edited,) = items(trigger_body(score="bad", comment="Actually it broke again"))
    assert first["id"] == edited["id"] and (first["score"], edited["score"]) == (5.0, 1.0)


def test_offered_ratings_are_not_items() -> None:
    assert items(trigger_body(score="offered")) == [] and items(trigger_body(score="unoffered")) == []


@pytest.mark.parametrize(("body", "reason"), [
    (b"not json", "not JSON"), (b'{"hello": 1}', "not a Zendesk satisfaction rating"),
    (trigger_body(score="meh"), "is not good, bad"), (trigger_body(score=True), "not true or false"),
    (trigger_body(ticket_id=None), "ticket_id"), (trigger_body(ticket_id={"id": 1}), "ticket_id"),
    (b'{"satisfaction_ratings": ["x"]}', "JSON object"),
])
def test_unreadable_payloads_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadPayload, match=reason):
        zendesk.translate(delivery(body), CONFIG)


def test_a_good_signature_passes() -> None:
    body = trigger_body()
    zendesk.verify(delivery(body, signed(body)), CONFIG)


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "no signature", "no timestamp", "stale",
                                  "ahead", "not a time", "timestamp changed"])
def test_bad_signatures_are_refused(case: str) -> None:
    body = trigger_body()
    headers = signed(body, secret="another" if case == "wrong secret" else SECRET,
                     stamp={"stale": "2026-12-07T14:54:59Z", "ahead": "2026-12-07T15:05:01Z",
                            "not a time": "yesterday"}.get(case, "2026-12-07T14:59:30Z"))
    if case == "tampered body":
        body = trigger_body(score="good")
    if case == "no signature":
        del headers["X-Zendesk-Webhook-Signature"]
    if case == "no timestamp":
        del headers["X-Zendesk-Webhook-Signature-Timestamp"]
    if case == "timestamp changed":
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = "2026-12-07T14:59:31Z"
    with pytest.raises(Refused):
        zendesk.verify(delivery(body, headers), CONFIG)


def test_a_timestamp_within_five_minutes_passes() -> None:
    body = trigger_body()
    zendesk.verify(delivery(body, signed(body, stamp="2026-12-07T14:55:01Z")), CONFIG)
    zendesk.verify(delivery(body, signed(body, stamp=str(int(NOW.timestamp()) - 60))), CONFIG)


def test_a_bearer_token_alone_or_with_the_signature() -> None:
    body = trigger_body()
    bearer_only = SourceConfig(name="zd", kind="zendesk", secrets={"bearer": "tok-123"})
    zendesk.verify(delivery(body, {"Authorization": "Bearer tok-123"}), bearer_only)
    for wrong in ({"Authorization": "Bearer tok-124"}, {"Authorization": "Basic tok-123"}, {}):
        with pytest.raises(Refused):
            zendesk.verify(delivery(body, wrong), bearer_only)
    both = SourceConfig(name="zd", kind="zendesk", secrets={"bearer": "tok-123", "secret": SECRET})
    zendesk.verify(delivery(body, {"Authorization": "Bearer tok-123", **signed(body)}), both)
    with pytest.raises(Refused):
        zendesk.verify(delivery(body, {"Authorization": "Bearer tok-123"}), both)
    with pytest.raises(Refused):
        zendesk.verify(delivery(body, signed(body)), both)
    with pytest.raises(Refused):
        zendesk.verify(delivery(body, signed(body)), SourceConfig(name="zd", kind="zendesk"))


class FakeZendesk:
    """List Satisfaction Ratings with cursor pagination, as Zendesk answers it, over a list of ratings."""

    def __init__(self) -> None:
        self.ratings: list[dict[str, Any]] = []
        self.requests: list[web.Request] = []
        self.throttle = 0

    def add(self, rid: int, ticket: int, created: str, score: str = "good") -> None:
        self.ratings.append({"id": rid, "ticket_id": ticket, "score": score, "comment": f"rating {rid}",
                             "group_id": 44, "created_at": created, "updated_at": created,
                             "url": f"https://acme.zendesk.com/api/v2/satisfaction_ratings/{rid}.json"})

    async def list(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if self.throttle:
            self.throttle -= 1
            return web.json_response({"error": "TooManyRequests"}, status=429, headers={"Retry-After": "7"})
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"me@acme.test/token:tok").decode():
            return web.json_response({"error": "Couldn't authenticate you"}, status=401)
        start = int(request.query["start_time"])
        size = int(request.query["page[size]"])
        after = int(request.query.get("page[after]", "0"))
        rows = [r for r in self.ratings if r["score"] in ("good", "bad")
                and datetime.fromisoformat(r["created_at"]).timestamp() >= start]
        page = rows[after:after + size]
        more = after + size < len(rows)
        return web.json_response({
            "satisfaction_ratings": page,
            "meta": {"has_more": more, "after_cursor": str(after + size) if page else None,
                     "before_cursor": str(after) if page else None},
            "links": {"next": f"{request.url}&page[after]={after + size}" if more else None, "prev": None},
        })


@pytest.fixture
async def fake() -> Any:
    vendor = FakeZendesk()
    app = web.Application()
    app.router.add_get("/api/v2/satisfaction_ratings.json", vendor.list)
    async with TestServer(app, host="127.0.0.1") as server:
        vendor.url = str(server.make_url(""))  # type: ignore[attr-defined]
        yield vendor


def pull_config(fake: Any, **options: str) -> SourceConfig:
    return SourceConfig(name="zd", kind="zendesk", secrets={"api_token": "tok"},
                        options={"api_url": fake.url, "email": "me@acme.test"} | options)


async def test_pull_walks_pages_then_fetches_only_new_ratings(fake: Any) -> None:
    for n in range(1, 151):  # 150 ratings, two of them in the same last second
        fake.add(n, 1000 + n, (NOW - timedelta(days=2) + timedelta(minutes=n)).isoformat())
    fake.add(151, 2151, fake.ratings[-1]["created_at"])
    fake.add(152, 2152, (NOW - timedelta(days=1)).isoformat(), score="offered")
    fake.add(1, 999, (NOW - timedelta(days=40)).isoformat())  # older than the backfill
    config = pull_config(fake)
    async with aiohttp.ClientSession() as session:
        first = await zendesk.pull(session, config, None, NOW)
        assert len(first.items) == 100 and first.more
        second = await zendesk.pull(session, config, first.cursor, NOW)
        assert len(second.items) == 51 and not second.more
        assert {i["id"] for i in first.items + second.items} == {str(1000 + n) for n in range(1, 151)} | {"2151"}
        again = await zendesk.pull(session, config, second.cursor, NOW)
        assert again.items == [] and not again.more  # the boundary second's ratings are not fetched again
        fake.add(153, 2153, fake.ratings[150]["created_at"])  # late, in that same second
        fake.add(154, 2154, (NOW - timedelta(minutes=1)).isoformat())
        newer = await zendesk.pull(session, config, again.cursor, NOW)
    assert sorted(i["id"] for i in newer.items) == ["2153", "2154"]
    query = fake.requests[0].query
    assert (query["score"], query["page[size]"], "page[after]" in query) == ("received", "100", False)
    assert int(query["start_time"]) == int((NOW - timedelta(days=30)).timestamp())
    assert fake.requests[1].query["page[after]"] == "100"
    for item in first.items + newer.items:
        validate(item)


async def test_pull_honours_429_and_keeps_its_place(fake: Any) -> None:
    for n in range(1, 4):
        fake.add(n, 100 + n, (NOW - timedelta(hours=n)).isoformat())
    config = pull_config(fake)
    async with aiohttp.ClientSession() as session:
        fake.throttle = 1
        with pytest.raises(RetryAfter) as waited:
            await zendesk.pull(session, config, None, NOW)
        assert waited.value.seconds == 7
        page = await zendesk.pull(session, config, None, NOW)
    assert len(page.items) == 3


async def test_pull_credentials_and_auth_header(fake: Any) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(SourceError, match="401"):
            await zendesk.pull(session, pull_config(fake, email="other@acme.test"), None, NOW)
        webhook_only = SourceConfig(name="zd", kind="zendesk", secrets={"secret": SECRET})
        assert (await zendesk.pull(session, webhook_only, None, NOW)).items == []
        oauth = SourceConfig(name="zd", kind="zendesk", secrets={"oauth_token": "oa"}, options={"api_url": fake.url})
        with pytest.raises(SourceError):
            await zendesk.pull(session, oauth, None, NOW)
    assert fake.requests[-1].headers["Authorization"] == "Bearer oa"
    assert len(fake.requests) == 2  # the webhook-only source asked nothing


def test_the_subdomain_makes_the_url_and_must_be_a_name() -> None:
    assert zendesk._base_url(SourceConfig(name="z", kind="zendesk", options={"subdomain": "Acme"})) == \
        "https://acme.zendesk.com"
    with pytest.raises(SourceError):
        zendesk._base_url(SourceConfig(name="z", kind="zendesk", options={"subdomain": "evil.com/x"}))


async def test_a_signed_webhook_is_stored_end_to_end(db_url: str) -> None:
    async with running_app(db_url, demo=True) as server:
        box = secret_box(server.runtime.core.services.keys)
        await add_source(server.runtime.db, box, KINDS["zendesk"], "zendesk-csat", {"secret": SECRET}, {})
        body = trigger_body(comment="Ответ пришёл через три дня")
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{server.url}/api/sources/zendesk-csat", data=body,
                                    headers=signed(body, stamp=stamp) | {"Content-Type": "application/json"}) as r:
                assert r.status in (200, 202), await r.text()
            async with session.post(f"{server.url}/api/sources/zendesk-csat", data=body,
                                    headers=signed(body, secret="wrong", stamp=stamp)) as r:
                assert r.status == 401
        async with server.runtime.db.session() as db:
            (row,) = list(await db.exec(select(Feedback)))
    assert (row.source, row.external_id, row.text, row.score, row.score_type) == (
        "zendesk-csat", "208", "Ответ пришёл через три дня", 1.0, "csat")
    assert (row.product_area, row.url, row.tags) == ("Billing", "https://acme.zendesk.com/agent/tickets/208",
                                                     ["vip", "refund"])
    assert row.customer is not None and row.customer["email"] == "ana@example.com"
