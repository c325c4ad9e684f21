"""Survicate: the published question-answered event and the documented answer shapes, its Hmac and Token
headers, and a response whose score and comment arrive as two signed events, merged into one stored item."""

from __future__ import annotations

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

from adapters.sources.base import BadPayload, Delivery, Refused, SourceConfig
from adapters.sources.kinds import KINDS
from adapters.sources.registry import add_source, secret_box
from adapters.sources.survicate import KIND, translate, verify
from storage.tables import Feedback
from tests.support.server import running_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "survicate"
SECRET, TOKEN = "survicate-signing-secret", "survicate-verification-token"
RESPONSE = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
WHEN = "2019-05-10T06:46:02+00:00"


def published() -> dict[str, Any]:
    return json.loads((FIXTURES / "question-answered.json").read_bytes())


def answered(answer: dict[str, Any], attributes: Any = None) -> dict[str, Any]:
    """VARIATION: the published event with another documented answer in place of its `choice`."""
    event = published()
    inner = event["event"]["questionAnswered"]
    del inner["choice"]
    inner.update(answer)
    if attributes is not None:
        inner["respondent"]["attributes"] = attributes
    return event


NPS = {"question": {"id": 12124, "body": "How likely are you to recommend us?"},
       "choice": {"id": 9, "body": "promoter", "comment": None}}  # the answer-types page's NPS choice


def comment(text: str) -> dict[str, Any]:
    return {"question": {"id": 12125, "body": "What could we do better?"}, "text": text}


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    """As Survicate publishes it: HMAC-SHA256 of the request body keyed with the signing secret, lowercase hex."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(body: bytes, headers: dict[str, str] | None = None) -> Delivery:
    return Delivery(method="POST", headers=CIMultiDict(headers or {}), body=body, query={},
                    received_at=datetime(2026, 12, 7, tzinfo=UTC), content_type="application/json")


def config(token: str | None = None) -> SourceConfig:
    secrets = {"secret": SECRET} | ({"token": token} if token else {})
    return SourceConfig(name="survicate", kind="survicate", secrets=secrets, options={})


def items(event: dict[str, Any]) -> list[dict[str, Any]]:
    return translate(delivery(encode(event)), config()).items


# translation (pure)

def test_published_sample_a_label_without_a_number_stores_nothing() -> None:
    """The sample answers "Great" to a rating question with no comment: no number to store, no words either."""
    assert items(published()) == []


def test_score_and_comment_events_share_the_response_id_and_only_their_own_fields() -> None:
    (score,) = items(answered(NPS))
    (words,) = items(answered(comment("Awesome platform and great support!")))  # the answer-types page's text
    assert score == {"id": RESPONSE, "source": "survicate", "text": "", "score": 9.0, "score_type": "nps",
                     "created_at": WHEN}
    assert words == {"id": RESPONSE, "source": "survicate", "text": "Awesome platform and great support!",
                     "created_at": WHEN}


def test_nps_zero_and_a_comment_on_the_choice() -> None:
    (item,) = items(answered({"choice": {"id": 0, "body": "detractor", "comment": "Zu teuer"}}))
    assert (item["score"], item["score_type"], item["text"]) == (0.0, "nps", "Zu teuer")


def test_a_choice_comment_without_a_score() -> None:
    (item,) = items(answered({"choice": {"id": 201139, "body": "Companies or organizations (B2B)",
                                         "comment": "mostly SMBs"}}))
    assert item["text"] == "mostly SMBs" and "score" not in item


@pytest.mark.parametrize(("answer", "expected"), [
    ({"type": "rating", "choice": {"id": 31002, "body": "4", "comment": None}}, (4.0, "rating")),
    ({"type": "smiley_scale", "choice": {"id": 41005, "body": "5", "comment": None}}, (5.0, "csat")),
    ({"type": "nps", "choice": {"id": 10, "body": "10", "comment": None}}, (10.0, "nps")),
])
def test_other_scales(answer: dict[str, Any], expected: tuple[float, str]) -> None:
    (item,) = items(answered(answer))
    assert (item["score"], item["score_type"]) == expected


@pytest.mark.parametrize("text", ["แอปใช้งานง่าย แต่การแจ้งเตือนช้า", "ارسال گزارش خیلی کند است",
                                  "Не могу найти экспорт в CSV"])
def test_comments_in_other_languages(text: str) -> None:
    (item,) = items(answered(comment(text)))
    assert item["text"] == text and "language" not in item  # Survicate doesn't say: the ingest detects it


def test_respondent_attributes_become_the_customer() -> None:
    attributes = {"email": "mina@example.com", "first_name": "Mina", "last_name": "Rahimi", "plan": "Growth",
                  "segment": "SMB", "country": "IR", "user_id": "8812"}
    (item,) = items(answered(NPS, attributes))
    assert item["customer"] == {"email": "mina@example.com", "name": "Mina Rahimi", "plan": "Growth",
                                "segment": "SMB", "country": "IR"}
    (listed,) = items(answered(NPS, [{"name": "email", "value": "mina@example.com"}]))
    assert listed["customer"] == {"email": "mina@example.com"}


def test_over_long_attributes_are_cut_to_the_ingest_limits() -> None:
    (item,) = items(answered(NPS, {"name": "ن" * 500, "plan": "p" * 300, "email": "e@example.com"}))
    assert (len(item["customer"]["name"]), len(item["customer"]["plan"])) == (200, 100)


def test_answers_with_nothing_to_store_alone() -> None:
    contact_form = {"fields": {"firstName": "Alan", "lastName": "Fresco", "email": "alan@example.com"}}
    assert items(answered(contact_form)) == []
    assert items(answered({"date": "2019-05-22"})) == []


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"messageId": "x"}',
    json.dumps({"messageId": "x", "deliveryTries": 0, "event": {"surveyCompleted": {}}}).encode(),
])
def test_unreadable_or_unread_events_are_bad_payloads(body: bytes) -> None:
    with pytest.raises(BadPayload):
        translate(delivery(body), config())


def test_an_event_without_any_response_id_is_a_bad_payload() -> None:
    event = answered(NPS)
    inner = event["event"]["questionAnswered"]
    del inner["responseUuid"], inner["respondent"]["id"], inner["respondent"]["uuid"]
    with pytest.raises(BadPayload):
        items(event)


# the headers

def test_hmac_as_published() -> None:
    body = encode(answered(NPS))
    verify(delivery(body, {"Hmac": sign(body)}), config())
    verify(delivery(body, {"Hmac": sign(body), "Token": TOKEN}), config(TOKEN))


@pytest.mark.parametrize("headers", [
    {},  # missing header
    {"Hmac": ""},
    {"Hmac": sign(encode(answered(NPS)), "another workspace's secret")},  # wrong secret
    {"Token": TOKEN},  # the plain token alone is not enough
    {"Hmac": "ŝïĝñåţûŕé"},
])
def test_bad_hmac_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Refused):
        verify(delivery(encode(answered(NPS)), headers), config())


def test_tampered_body_is_refused() -> None:
    body = encode(answered(NPS))
    with pytest.raises(Refused):
        verify(delivery(body.replace(b'"id": 9', b'"id": 0'), {"Hmac": sign(body)}), config())


@pytest.mark.parametrize("token", [None, "", "another-token"])
def test_a_configured_token_must_match(token: str | None) -> None:
    body = encode(answered(NPS))
    headers = {"Hmac": sign(body)} | ({"Token": token} if token is not None else {})
    with pytest.raises(Refused):
        verify(delivery(body, headers), config(TOKEN))


def test_registered_signed() -> None:
    assert KINDS["survicate"] is KIND and not KIND.secret_url and KIND.handshake == frozenset()


# end to end: two events, one stored item

async def test_end_to_end_score_and_comment_merge_into_one_item(db_url: str) -> None:
    attributes = {"email": "mina@example.com", "plan": "Growth"}
    score = encode(answered(copy.deepcopy(NPS), attributes))
    words = encode(answered(comment("Экспорт в CSV работает медленно"), attributes))
    async with running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        await add_source(running.runtime.db, box, KIND, "survicate", {"secret": SECRET, "token": TOKEN}, {})
        url = f"{running.url}/api/sources/survicate"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=score, headers={"Hmac": sign(score, "wrong"), "Token": TOKEN}) as no:
                assert no.status == 401
            for body, expected in ((score, {"accepted": 1}), (words, {"updated": 1}), (words, {"duplicates": 1})):
                async with http.post(url, data=body, headers={"Hmac": sign(body), "Token": TOKEN,
                                                              "Content-Type": "application/json"}) as answer:
                    assert answer.status == 202, await answer.text()
                    assert expected.items() <= (await answer.json()).items()
        async with running.runtime.db.session() as session:
            (stored,) = list(await session.exec(select(Feedback)))
    assert (stored.source, stored.external_id, stored.score, stored.score_type) == ("survicate", RESPONSE, 9, "nps")
    assert stored.text == "Экспорт в CSV работает медленно"
    assert stored.customer == {"email": "mina@example.com", "plan": "Growth"}
    assert stored.created_at == datetime(2019, 5, 10, 6, 46, 2, tzinfo=UTC)
