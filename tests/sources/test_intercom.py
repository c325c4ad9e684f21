"""Intercom: conversation ratings (HTML remarks to text), the ping, its signature, and one delivery end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from sqlmodel import select

from adapters.sources.base import BadPayload, Delivery, Refused, SourceConfig
from adapters.sources.html_text import html_to_text
from adapters.sources.intercom import KIND, translate, verify
from adapters.sources.registry import add_source, secret_box
from storage.tables import Feedback
from tests.support.server import running_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "intercom"
CLIENT_SECRET = "intercom-client-secret"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(raw: bytes, secret: str = CLIENT_SECRET) -> str:
    """As Intercom signs: sha1= + hex HMAC-SHA1 of the raw body, keyed with the app's client secret."""
    return "sha1=" + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()


def delivery(raw: bytes, headers: dict[str, str] | None = None) -> Delivery:
    return Delivery(method="POST", headers=CIMultiDict(headers or {}), body=raw, query={},
                    received_at=datetime(2026, 12, 7, tzinfo=UTC))


def config(**options: str) -> SourceConfig:
    return SourceConfig(name="support", kind="intercom", secrets={"secret": CLIENT_SECRET}, options=options)


def items(raw: bytes, **options: str) -> list[dict[str, Any]]:
    return translate(delivery(raw), config(**options)).items


def test_rating_on_the_published_conversation() -> None:
    assert items(body("rating_added_assembled.json")) == [{
        "id": "1295", "source": "support", "text": "", "score": 5, "score_type": "csat", "tags": ["Test tag"],
        "url": "https://app.intercom.com/a/apps/lkqcyt9t/conversations/1295",
        "created_at": "2022-12-14T14:41:34+00:00",
    }]  # the opening message's author is an admin and the contact has no name or email: no customer


def test_html_remark_becomes_text_with_its_paragraphs() -> None:
    (item,) = items(body("variation_html_remark_fa.json"))
    assert item["text"] == "پشتیبانی & پاسخ کند بود.\n\nSecond paragraph <b> — ok\nline two"
    assert (item["score"], item["score_type"]) == (2, "csat")
    assert item["customer"] == {"name": "مریم رضایی", "email": "maryam@example.com"}
    assert item["url"] == "https://app.intercom.com/a/apps/lkqcyt9t/conversations/137324500000000"
    assert item["created_at"] == "2025-11-24T16:58:20+00:00"


def test_a_changed_rating_keeps_the_conversation_id() -> None:
    (first,) = items(body("variation_html_remark_fa.json"))
    (changed,) = items(body("variation_rating_changed_ru.json"))
    assert changed["id"] == first["id"]
    assert (changed["score"], changed["text"]) == (4, "Спасибо, всё решили!")
    assert changed["customer"] == {"name": "Иван Петров", "email": "ivan@example.com"}


def test_customer_from_the_opening_message_and_eu_inbox() -> None:
    payload = json.loads(body("rating_added_assembled.json"))
    payload["data"]["item"]["source"]["author"] = {"type": "user", "id": "u1", "name": "Lee", "email": "lee@ex.com"}
    (item,) = items(json.dumps(payload).encode(), inbox_url="https://app.eu.intercom.com")
    assert item["customer"] == {"name": "Lee", "email": "lee@ex.com"}
    assert item["url"] == "https://app.eu.intercom.com/a/apps/lkqcyt9t/conversations/1295"


def test_a_rating_time_out_of_range_falls_back_to_the_notification_time() -> None:
    payload = json.loads(body("variation_html_remark_fa.json"))
    payload["data"]["item"]["conversation_rating"]["created_at"] = 10**20
    (item,) = items(json.dumps(payload).encode())
    assert item["created_at"] == "2025-11-24T16:58:21+00:00"


def test_ping_and_other_topics_store_nothing() -> None:
    assert translate(delivery(body("ping.json")), config()).items == []
    other = json.loads(body("rating_added_assembled.json")) | {"topic": "conversation.admin.closed"}
    assert items(json.dumps(other).encode()) == []


@pytest.mark.parametrize("raw", [
    b"<p>not json</p>", b"[]", b'{"type": "something"}',
    b'{"type": "notification_event", "topic": "conversation.rating.added", "data": {}}',
    b'{"type": "notification_event", "topic": "conversation.rating.added", "data": {"item": {"id": "1"}}}',
])
def test_payloads_it_cannot_read(raw: bytes) -> None:
    with pytest.raises(BadPayload):
        items(raw)


def test_html_to_text() -> None:
    assert html_to_text("<p>Hello &amp; thanks</p>\n<p>Two<br/>lines</p>") == "Hello & thanks\n\nTwo\nlines"
    assert html_to_text("<ul><li>one</li><li>two</li></ul><script>alert(1)</script>") == "one\n\ntwo"
    assert html_to_text("plain text, 3 &lt; 4 &#x1F600;") == "plain text, 3 < 4 😀"
    assert html_to_text("<p>  </p>") == ""
    assert html_to_text("<p>unclosed <b>tags") == "unclosed tags"


def test_signature() -> None:
    raw = body("variation_html_remark_fa.json")
    verify(delivery(raw, {"X-Hub-Signature": sign(raw)}), config())
    for headers in ({"X-Hub-Signature": sign(raw, "another secret")}, {"X-Hub-Signature": sign(raw + b" ")}, {},
                    {"X-Hub-Signature": sign(raw).removeprefix("sha1=")},
                    {"X-Hub-Signature": sign(raw).replace("sha1=", "sha256=")}):
        with pytest.raises(Refused):
            verify(delivery(raw, headers), config())
    with pytest.raises(Refused):
        verify(delivery(raw.replace(b'"rating": 2', b'"rating": 5'), {"X-Hub-Signature": sign(raw)}), config())


async def test_end_to_end_ping_then_rating(db_url: str) -> None:
    async with running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        await add_source(running.runtime.db, box, KIND, "support", {"secret": CLIENT_SECRET}, {})
        url = f"{running.url}/api/sources/support"
        async with aiohttp.ClientSession() as http:
            for name in ("ping.json", "variation_html_remark_fa.json"):
                raw = body(name)
                async with http.post(url, data=raw, headers={"X-Hub-Signature": sign(raw)}) as answer:
                    assert answer.status == 202, await answer.text()
            raw = body("variation_rating_changed_ru.json")
            async with http.post(url, data=raw, headers={"X-Hub-Signature": sign(raw, "wrong")}) as answer:
                assert answer.status == 401
        async with running.runtime.db.session() as session:
            (stored,) = list(await session.exec(select(Feedback)))
        assert (stored.external_id, stored.score, stored.score_type) == ("137324500000000", 2, "csat")
        assert stored.text == "پشتیبانی & پاسخ کند بود.\n\nSecond paragraph <b> — ok\nline two"
        assert stored.customer is not None
        assert (stored.customer["name"], stored.customer["email"]) == ("مریم رضایی", "maryam@example.com")
        assert stored.url == "https://app.intercom.com/a/apps/lkqcyt9t/conversations/137324500000000"
