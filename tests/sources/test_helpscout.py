"""Help Scout: satisfaction ratings from Help Scout's published Rating objects and variations of them, the
X-HelpScout-Signature check (computed here as Help Scout documents it), and one signed webhook end to end."""

from __future__ import annotations

import base64
import copy
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

from adapters.sources import helpscout
from adapters.sources.base import BadPayload, Delivery, Refused, SourceConfig
from adapters.sources.kinds import KINDS
from adapters.sources.registry import add_source, secret_box
from bot.feedback.items import validate
from storage.tables import Feedback
from tests.support.server import running_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "helpscout"
WEBHOOK = FIXTURES / "rating_webhook.json"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
SECRET = "hs-secret-key"
CONFIG = SourceConfig(name="hs", kind="helpscout", secrets={"secret": SECRET})
EVENT = {"X-HelpScout-Event": "satisfaction.ratings"}


def varied(**fields: Any) -> bytes:
    """The published webhook Rating object with fields changed (a variation of ours)."""
    rating = copy.deepcopy(json.loads(WEBHOOK.read_bytes()))
    rating.update(fields)
    return json.dumps(rating, ensure_ascii=False).encode()


def signature(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def delivery(body: bytes, headers: dict[str, str] | None = None) -> Delivery:
    return Delivery("POST", CIMultiDict(EVENT if headers is None else headers), body, {}, NOW)


def items(body: bytes, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    found = helpscout.translate(delivery(body, headers), CONFIG).items
    for item in found:
        validate(item)
    return found


def test_the_published_webhook_rating() -> None:
    (item,) = items(WEBHOOK.read_bytes())
    assert item == {"id": "5434", "source": "hs", "text": "he was really helpful", "score": 5.0,
                    "score_type": "csat", "created_at": "2015-04-13T12:34:12Z",
                    "customer": {"name": "John Doe", "email": "john.doe@gmail.com"},
                    "url": "https://secure.helpscout.net/conversation/1560011", "product_area": "My Mailbox"}


def test_the_published_mailbox_api_rating() -> None:
    (item,) = items((FIXTURES / "rating_mailbox_api_v2.json").read_bytes())
    assert item == {"id": "1", "source": "hs", "text": "Well done!", "score": 5.0, "score_type": "csat",
                    "created_at": "2017-12-12T12:12:13",
                    "customer": {"name": "Happy Customer", "email": "customer@acme.com"},
                    "url": "https://secure.helpscout.net/conversation/123/456"}


@pytest.mark.parametrize(("rating", "score"), [
    ("Great", 5.0), ("Okay", 3.0), ("Not Good", 1.0), ("Bad", 1.0), ("not_good", 1.0), ("okay", 3.0),
])
def test_the_three_faces_map_onto_csat(rating: str, score: float) -> None:
    (item,) = items(varied(rating=rating))
    assert (item["score"], item["score_type"]) == (score, "csat")


@pytest.mark.parametrize("comment", ["ช่วยได้มากครับ", "خیلی کمک کرد", "Очень помог"])
def test_other_languages(comment: str) -> None:
    assert items(varied(comments=comment))[0]["text"] == comment


def test_variations_no_comment_an_edit_a_number_and_unknown() -> None:
    (bare,) = items(varied(comments=None, rating="Okay"))
    assert (bare["text"], bare["score"]) == ("", 3.0)
    (edited,) = items(varied(rating="Not Good", comments="Actually, still broken"))
    assert (edited["id"], edited["score"], edited["text"]) == ("5434", 1.0, "Actually, still broken")
    assert items(varied(comments=10))[0]["text"] == "10"
    (unknown,) = items(varied(rating="unknown"))
    assert "score" not in unknown and unknown["text"] == "he was really helpful"
    assert items(varied(rating="unknown", comments="")) == []
    (nobody,) = items(varied(customer=None, mailbox=None, ticketId=None))
    assert not {"customer", "product_area", "url"} & nobody.keys()


def test_other_events_are_ignored_and_a_missing_event_header_is_read_as_a_rating() -> None:
    assert items(WEBHOOK.read_bytes(), {"X-HelpScout-Event": "convo.created"}) == []
    assert len(items(WEBHOOK.read_bytes(), {})) == 1


@pytest.mark.parametrize(("body", "reason"), [
    (b"nope", "not JSON"), (b'{"id": 1}', "not a Help Scout rating"), (varied(rating="Superb"), "is not Great"),
    (varied(rating=5), "must be Great"), (varied(id=None), "id"),
])
def test_unreadable_payloads_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadPayload, match=reason):
        helpscout.translate(delivery(body), CONFIG)


def test_a_good_signature_passes() -> None:
    body = WEBHOOK.read_bytes()
    helpscout.verify(delivery(body, EVENT | {"X-HelpScout-Signature": signature(body)}), CONFIG)


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "missing header", "no secret registered"])
def test_bad_signatures_are_refused(case: str) -> None:
    body = WEBHOOK.read_bytes()
    headers = EVENT | {"X-HelpScout-Signature": signature(body, "other" if case == "wrong secret" else SECRET)}
    config = CONFIG
    if case == "tampered body":
        body = varied(rating="Not Good")
    if case == "missing header":
        del headers["X-HelpScout-Signature"]
    if case == "no secret registered":
        config = SourceConfig(name="hs", kind="helpscout")
    with pytest.raises(Refused):
        helpscout.verify(delivery(body, headers), config)


async def test_a_signed_rating_is_stored_end_to_end(db_url: str) -> None:
    async with running_app(db_url, demo=True) as server:
        box = secret_box(server.runtime.core.services.keys)
        await add_source(server.runtime.db, box, KINDS["helpscout"], "helpscout", {"secret": SECRET}, {})
        body = varied(comments="خیلی کمک کرد")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{server.url}/api/sources/helpscout", data=body,
                                    headers=EVENT | {"X-HelpScout-Signature": signature(body, "wrong")}) as r:
                assert r.status == 401
            async with session.post(f"{server.url}/api/sources/helpscout", data=body,
                                    headers=EVENT | {"X-HelpScout-Signature": signature(body),
                                                     "Content-Type": "application/json"}) as r:
                assert r.status in (200, 202), await r.text()
        async with server.runtime.db.session() as db:
            (row,) = list(await db.exec(select(Feedback)))
    assert (row.source, row.external_id, row.text, row.score, row.score_type, row.product_area) == (
        "helpscout", "5434", "خیلی کمک کرد", 5.0, "csat", "My Mailbox")
    assert row.url == "https://secure.helpscout.net/conversation/1560011"
    assert (row.customer or {}).get("email") == "john.doe@gmail.com"
