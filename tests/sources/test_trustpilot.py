"""Trustpilot: service review events from Trustpilot's published example and variations of it, and one delivery end
to end through the source's secret URL (Trustpilot signs nothing)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from sqlmodel import select

from adapters.sources import trustpilot
from adapters.sources.base import BadPayload, Delivery, SourceConfig
from adapters.sources.kinds import KINDS
from adapters.sources.registry import add_source, secret_box
from bot.feedback.items import validate
from storage.tables import Feedback
from tests.support.server import running_app

PUBLISHED = Path(__file__).parent.parent / "fixtures" / "sources" / "trustpilot" / "service_review_created.json"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
CONFIG = SourceConfig(name="tp", kind="trustpilot")


def published() -> dict[str, Any]:
    return json.loads(PUBLISHED.read_bytes())


def varied(event: str = "service-review-created", **review: Any) -> bytes:
    """The published example with its event name and review fields changed (a variation of ours)."""
    body = copy.deepcopy(published())
    body["events"][0]["eventName"] = event
    body["events"][0]["eventData"].update(review)
    return json.dumps(body, ensure_ascii=False).encode()


def items(body: bytes) -> list[dict[str, Any]]:
    found = trustpilot.translate(Delivery("POST", CIMultiDict(), body, {}, NOW), CONFIG).items
    for item in found:
        validate(item)
    return found


def test_the_published_review_keeps_title_text_stars_language_and_name() -> None:
    (item,) = items(PUBLISHED.read_bytes())
    assert item == {
        "id": "53bffd360000640002975387", "source": "tp",
        "text": "Great service\n\nNothing other than excellent customer service.",
        "score": 5, "score_type": "rating", "language": "en", "customer": {"name": "Customer"},
        "tags": ["Tag value"], "url": "https://www.trustpilot.com/reviews/53bffd360000640002975387",
        "created_at": "2017-05-20T09:34:44.000Z",
    }


def test_an_updated_review_is_the_same_item_with_new_words_and_stars() -> None:
    (item,) = items(varied("service-review-updated", title="Changed my mind", text="It broke after a week", stars=2))
    assert (item["id"], item["text"], item["score"]) == (
        "53bffd360000640002975387", "Changed my mind\n\nIt broke after a week", 2)


def test_a_deleted_review_and_other_events_are_ignored() -> None:
    assert items(varied("service-review-deleted")) == []
    assert items(varied("product-review-created")) == []
    body = published()
    body["events"].append({"eventName": "service-review-deleted", "version": "1", "eventData": {"id": "x"}})
    assert [i["id"] for i in items(json.dumps(body).encode())] == ["53bffd360000640002975387"]


@pytest.mark.parametrize(("title", "text", "language"), [
    ("บริการดีมาก", "ส่งของเร็ว พนักงานสุภาพ", "th"),
    ("خدمات عالی", "ارسال سریع و پشتیبانی خوب", "fa"),
    ("Отличный сервис", "Доставка быстрая, поддержка вежливая", "ru"),
])
def test_other_languages(title: str, text: str, language: str) -> None:
    (item,) = items(varied(title=title, text=text, language=language))
    assert (item["text"], item["language"]) == (f"{title}\n\n{text}", language)


def test_variations_missing_title_or_text_numbers_as_text_and_stars_as_text() -> None:
    assert items(varied(title=None))[0]["text"] == "Nothing other than excellent customer service."
    assert items(varied(text=""))[0]["text"] == "Great service"
    (no_words,) = items(varied(title=None, text=None, stars=1))
    assert (no_words["text"], no_words["score"]) == ("", 1)
    (numbers,) = items(varied(title=404, text=12345, stars="4", consumer={"name": 7}))
    assert (numbers["text"], numbers["score"], numbers["customer"]) == ("404\n\n12345", 4.0, {"name": "7"})
    (anonymous,) = items(varied(consumer=None, tags=None, language=None))
    assert not {"customer", "tags", "language"} & anonymous.keys()


@pytest.mark.parametrize(("body", "reason"), [
    (b"<xml/>", "not JSON"), (b'{"eventName": "service-review-created"}', "events"),
    (b'{"events": ["x"]}', "JSON object"), (varied(id=None), "id"),
    (b'{"events": [{"eventName": "service-review-created", "eventData": "x"}]}', "eventData"),
])
def test_unreadable_payloads_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadPayload, match=reason):
        trustpilot.translate(Delivery("POST", CIMultiDict(), body, {}, NOW), CONFIG)


def test_trustpilot_gets_a_secret_url() -> None:
    assert KINDS["trustpilot"].secret_url and KINDS["trustpilot"].verify is None


async def test_a_review_through_the_secret_url_end_to_end(db_url: str) -> None:
    async with running_app(db_url, demo=True) as server:
        box = secret_box(server.runtime.core.services.keys)
        token = await add_source(server.runtime.db, box, KINDS["trustpilot"], "trustpilot", {}, {})
        assert token
        async with aiohttp.ClientSession() as session:
            for path in ("trustpilot", f"trustpilot/{token[:-1]}x"):
                async with session.post(f"{server.url}/api/sources/{path}", data=PUBLISHED.read_bytes()) as r:
                    assert r.status == 401
            for body in (PUBLISHED.read_bytes(), varied("service-review-updated", stars=3, text="Slower now")):
                async with session.post(f"{server.url}/api/sources/trustpilot/{token}", data=body,
                                        headers={"Content-Type": "application/json"}) as r:
                    assert r.status in (200, 202), await r.text()
        async with server.runtime.db.session() as db:
            (row,) = list(await db.exec(select(Feedback)))
    assert (row.source, row.external_id, row.text, row.score, row.score_type, row.language) == (
        "trustpilot", "53bffd360000640002975387", "Great service\n\nSlower now", 3.0, "rating", "en")
    assert (row.customer or {}).get("name") == "Customer"
