"""Typeform: the published example payload and variations, its signature, and one delivery end to end."""

from __future__ import annotations

import base64
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
from adapters.sources.registry import add_source, secret_box
from adapters.sources.typeform import KIND, translate, verify
from storage.tables import Feedback
from tests.support.server import running_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "typeform"
SECRET = "a-typeform-webhook-secret"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(raw: bytes, secret: str = SECRET) -> str:
    """As Typeform documents it: sha256= + base64 of the HMAC-SHA256 of the raw body, keyed with the secret."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def delivery(raw: bytes, headers: dict[str, str] | None = None) -> Delivery:
    return Delivery(method="POST", headers=CIMultiDict(headers or {}), body=raw, query={},
                    received_at=datetime(2026, 12, 7, tzinfo=UTC), content_type="application/json")


def config(**options: str) -> SourceConfig:
    return SourceConfig(name="forms", kind="typeform", secrets={"secret": SECRET}, options=options)


def items(raw: bytes, **options: str) -> list[dict[str, Any]]:
    return translate(delivery(raw), config(**options)).items


def test_published_example_by_ref_and_by_field_id() -> None:
    (item,) = items(body("example_payload.json"), score_ref="readable_ref_rating", comment_ref="DlXFaesGBpoF",
                    title_ref="readable_ref_short_text")
    assert item == {
        "id": "a3a12ec67a1365927098a606107fac15", "source": "forms",
        "text": "Laura\n\nIt's cold right now! I live in an older medium-sized city with a university. "
                "Geographically, the area is hilly.",
        "score": 3, "score_type": "csat",  # a rating question, Typeform's default 1–5
        "created_at": "2018-01-18T18:17:02+00:00",
    }  # hidden user_id is not a customer field; the payload has no response_url


def test_email_question_by_ref_when_no_hidden_email() -> None:
    (item,) = items(body("example_payload.json"), comment_ref="DlXFaesGBpoF", email_ref="readable_ref_email")
    assert item["customer"] == {"email": "laura@example.com"}
    (hidden,) = items(body("variation_skipped_comment_fa.json"), score_ref="nps_score", email_ref="nps_reason")
    assert hidden["customer"]["email"] == "sara@example.com"  # the hidden field wins; the skipped answer is unread


def test_score_is_taken_by_ref_not_position() -> None:
    """The opinion scale answer (2) sits between others; another ref picks another answer."""
    (opinion,) = items(body("example_payload.json"), score_ref="readable_ref_opinion_scale")
    assert (opinion["score"], opinion["score_type"], opinion["text"]) == (2, "nps", "")
    (forced,) = items(body("example_payload.json"), score_ref="readable_ref_number2", score_type="csat")
    assert (forced["score"], forced["score_type"]) == (4, "csat")


def test_skipped_comment_and_hidden_customer_persian() -> None:
    (item,) = items(body("variation_skipped_comment_fa.json"), score_ref="nps_score", comment_ref="nps_reason",
                    title_ref="headline")
    assert item["text"] == "" and (item["score"], item["score_type"]) == (3, "nps")
    assert item["customer"] == {"name": "سارا", "email": "sara@example.com", "segment": "SMB", "plan": "Pro",
                                "country": "IR"}
    assert item["created_at"] == "2026-11-30T10:00:00+00:00"


def test_skipped_score_keeps_title_and_comment_thai() -> None:
    (item,) = items(body("variation_thai_score_skipped.json"), score_ref="nps_score", comment_ref="nps_reason",
                    title_ref="headline")
    assert "score" not in item and "customer" not in item
    assert item["text"] == "ส่งออกไฟล์ไม่ได้\n\nปุ่มส่งออกค้างทุกครั้ง ช่วยแก้ด้วยครับ"


def test_scale_from_properties_and_an_unknown_scale_needs_score_type() -> None:
    thai = json.loads(body("variation_thai_score_skipped.json"))
    thai["form_response"]["answers"].append(
        {"type": "number", "number": 6, "field": {"id": "fNps000001", "type": "opinion_scale"}})
    (item,) = items(json.dumps(thai).encode(), score_ref="nps_score")
    assert (item["score"], item["score_type"]) == (6, "ces")  # 7 steps from one: 1–7
    with pytest.raises(BadPayload, match="--score-type"):
        items(body("variation_rating_1_10_ru.json"), score_ref="nps_score", comment_ref="nps_reason")
    (ru,) = items(body("variation_rating_1_10_ru.json"), score_ref="nps_score", comment_ref="nps_reason",
                  score_type="nps")
    assert (ru["score"], ru["score_type"], ru["text"]) == (8, "nps", "Всё хорошо, но отчёты медленные.")
    assert ru["customer"] == {"email": "ivan@example.com"}


def test_an_nps_question_is_nps() -> None:
    payload = json.loads(body("variation_skipped_comment_fa.json"))
    payload["form_response"]["definition"]["fields"][1] = {"id": "fNps000001", "type": "nps", "ref": "nps_score"}
    (item,) = items(json.dumps(payload).encode(), score_ref="nps_score")
    assert (item["score"], item["score_type"]) == (3, "nps")


def test_response_url_when_the_payload_has_one() -> None:
    payload = json.loads(body("example_payload.json"))
    payload["form_response"]["response_url"] = "https://admin.typeform.com/form/lT4Z3j/results?responseId=x"
    (item,) = items(json.dumps(payload).encode(), comment_ref="DlXFaesGBpoF")
    assert item["url"] == "https://admin.typeform.com/form/lT4Z3j/results?responseId=x"


@pytest.mark.parametrize(("raw", "options", "reason"), [
    (b"not json", {"comment_ref": "x"}, "not JSON"),
    (b"[1]", {"comment_ref": "x"}, "not a JSON object"),
    (b'{"event_type": "form_response", "form_response": {}}', {"comment_ref": "x"}, "token"),
    (b'{"event_type": "form_response", "form_response": {"token": "t"}}', {"comment_ref": "x"}, "definition"),
    (None, {"comment_ref": "no_such_ref"}, "no question with ref 'no_such_ref'"),
    (None, {}, "neither --score-ref nor --comment-ref"),
    (None, {"score_ref": "readable_ref_rating", "score_type": "stars"}, "--score-type must be"),
    (None, {"score_ref": "readable_ref_short_text"}, "not a number"),
    (None, {"score_ref": "readable_ref_number1"}, "no scale"),
    (None, {"comment_ref": "readable_ref_yes_no"}, "not text"),
])
def test_payloads_it_cannot_read_are_refused_with_a_reason(raw: bytes | None, options: dict[str, str],
                                                            reason: str) -> None:
    with pytest.raises(BadPayload, match=reason):
        items(raw if raw is not None else body("example_payload.json"), **options)


def test_partial_responses_are_not_feedback() -> None:
    payload = json.loads(body("example_payload.json"))
    payload["event_type"] = "form_response_partial"
    assert items(json.dumps(payload).encode(), comment_ref="DlXFaesGBpoF") == []


def test_signature() -> None:
    raw = body("example_payload.json")
    verify(delivery(raw, {"Typeform-Signature": sign(raw)}), config())
    refused = [
        {"Typeform-Signature": sign(raw, "another secret")},
        {"Typeform-Signature": sign(raw + b" ")},  # signed another body
        {},
        {"Typeform-Signature": sign(raw).replace("sha256=", "sha1=")},
        {"Typeform-Signature": sign(raw).removeprefix("sha256=")},
        {"Typeform-Signature": "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()},  # hex
    ]
    for headers in refused:
        with pytest.raises(Refused):
            verify(delivery(raw, headers), config())
    tampered = raw.replace(b"Laura", b"Lauro")
    with pytest.raises(Refused):
        verify(delivery(tampered, {"Typeform-Signature": sign(raw)}), config())


async def test_end_to_end_signed_delivery(db_url: str) -> None:
    async with running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        await add_source(running.runtime.db, box, KIND, "forms", {"secret": SECRET},
                         {"score_ref": "readable_ref_rating", "comment_ref": "DlXFaesGBpoF"})
        raw = body("example_payload.json")
        url = f"{running.url}/api/sources/forms"
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=raw, headers={"Typeform-Signature": sign(raw, "wrong")}) as refused:
                assert refused.status == 401
            for expected in ({"accepted": 1}, {"duplicates": 1}):
                async with http.post(url, data=raw, headers={"Typeform-Signature": sign(raw),
                                                             "Content-Type": "application/json"}) as answer:
                    assert answer.status == 202, await answer.text()
                    assert expected.items() <= (await answer.json()).items()
        async with running.runtime.db.session() as session:
            (stored,) = list(await session.exec(select(Feedback)))
        assert (stored.source, stored.external_id, stored.score, stored.score_type) == (
            "forms", "a3a12ec67a1365927098a606107fac15", 3, "csat")
        assert stored.text.startswith("It's cold right now!")
        assert stored.created_at == datetime(2018, 1, 18, 18, 17, 2, tzinfo=UTC)
