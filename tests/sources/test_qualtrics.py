"""Qualtrics: the published form-encoded event, the response read from a fake Qualtrics API on loopback, and one
delivery end to end through the secret URL (GET handshake, event, answers fetched)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from multidict import CIMultiDict
from sqlmodel import select

from adapters.sources.base import BadPayload, Delivery, RetryAfter, SourceConfig, SourceError
from adapters.sources.kinds import KINDS
from adapters.sources.qualtrics import KIND, fetch, translate
from adapters.sources.registry import add_source, secret_box
from storage.tables import Feedback
from tests.support.server import running_app
from tests.support.vendors import Reply, fake_vendor

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "qualtrics"
SURVEY, RESPONSE = "SV_22VlHYNeldrrrkp", "R_1l9mcVuXubb4aGm"
TOKEN = "qualtrics-api-token-123"
PATH = f"/API/v3/surveys/{SURVEY}/responses/{RESPONSE}"
FORM = "application/x-www-form-urlencoded"


def published() -> bytes:
    return (FIXTURES / "completed-response-sharedkey.form").read_bytes()


def plain_form(**changes: str) -> bytes:
    """VARIATION: the published event's fields form-encoded as Qualtrics posts them without a shared key."""
    fields = {"Topic": f"sapdevelopment.surveyengine.completedResponse.{SURVEY}", "Status": "Complete",
              "SurveyID": SURVEY, "ResponseID": RESPONSE, "CompletedDate": "2019-06-26 13:28:11",
              "BrandID": "sapdevelopment"} | changes
    return urlencode(fields).encode()


def delivery(body: bytes) -> Delivery:
    return Delivery(method="POST", headers=CIMultiDict({"Content-Type": FORM}), body=body, query={},
                    received_at=datetime(2026, 12, 7, tzinfo=UTC), content_type=FORM)


def config(api_url: str = "https://yul1.qualtrics.com", **options: str) -> SourceConfig:
    return SourceConfig(name="qual", kind="qualtrics", secrets={"api_token": TOKEN},
                        options={"api_url": api_url, **options})


def response(values: dict[str, Any]) -> dict[str, Any]:
    """VARIATION (not published): `GET /API/v3/surveys/{surveyId}/responses/{responseId}` as the API reference
    describes it (result.responseId, result.values with the response's metadata, answers by question id and
    embedded data, labels, displayedFields), for the published event's response."""
    base = {"startDate": "2019-06-26T13:25:02Z", "endDate": "2019-06-26T13:28:10Z", "status": 0,
            "ipAddress": "192.0.2.7", "progress": 100, "duration": 188, "finished": 1,
            "recordedDate": "2019-06-26T13:28:11.279Z", "_recordId": RESPONSE, "distributionChannel": "email",
            "userLanguage": "EN"}
    return {"result": {"responseId": RESPONSE, "values": base | values, "labels": {"finished": "True"},
                       "displayedFields": sorted(values), "displayedValues": {}},
            "meta": {"requestId": "8b7f0c1e-3a0e-4f8e-9d0b-6f0d7a1c2e3f", "httpStatus": "200 - OK"}}


OPTIONS = {"score_question": "QID1", "comment_question": "QID2_TEXT"}


# translation (pure)

def test_published_event_with_a_shared_key_names_the_response() -> None:
    translated = translate(delivery(published()), config())
    assert (translated.items, translated.fetch) == ([], [f"{SURVEY}/{RESPONSE}"])


def test_event_without_a_shared_key() -> None:
    assert translate(delivery(plain_form()), config()).fetch == [f"{SURVEY}/{RESPONSE}"]


def test_other_topics_store_nothing() -> None:
    translated = translate(delivery(plain_form(Topic="sapdevelopment.threesixty.created")), config())
    assert (translated.items, translated.fetch) == ([], [])


@pytest.mark.parametrize("body", [
    b"", b"\xff\xfe not utf-8", b"Status=Complete",  # no Topic
    plain_form(ResponseID="../../users"), plain_form(SurveyID=""),
    urlencode({"Topic": f"x.surveyengine.completedResponse.{SURVEY}", "HMAC": "00",
               "MSG": "q8w7e6r5t4y3u2i1o0p9"}).encode(),  # VARIATION: "encrypt": true, MSG unreadable
    urlencode({"Topic": f"x.surveyengine.completedResponse.{SURVEY}", "MSG": "[1, 2]"}).encode(),
])
def test_unreadable_events_are_bad_payloads(body: bytes) -> None:
    with pytest.raises(BadPayload):
        translate(delivery(body), config())


def test_registered_with_a_secret_url_and_a_get_handshake() -> None:
    assert KINDS["qualtrics"] is KIND
    assert KIND.secret_url and KIND.handshake == frozenset({"GET"})


# the responses API, on a fake Qualtrics

@pytest.mark.parametrize(("language", "comment", "expected"), [
    ("TH", "พนักงานบริการดีมาก แต่รอนานเกินไป", "th"),
    ("FA", "پشتیبانی سریع بود، ممنون", "fa"),
    ("RU", "Хороший сервис, но дорого", "ru"),
    ("PT-BR", "Ótimo atendimento", "pt-br"),
    ("ZH-S", "服务很好", "zh"),
])
async def test_score_comment_language_and_customer(language: str, comment: str, expected: str) -> None:
    values = {"QID1": 9, "QID1_NPS_GROUP": 3, "QID2_TEXT": comment, "userLanguage": language,
              "RecipientEmail": "nadia@example.ir", "RecipientFirstName": "Nadia", "RecipientLastName": "Karimi",
              "plan": "Business"}
    async with fake_vendor({PATH: Reply(body=response(values))}) as vendor, aiohttp.ClientSession() as http:
        (item,) = await fetch(http, config(vendor.url, **OPTIONS), [f"{SURVEY}/{RESPONSE}"])
    assert item == {"id": RESPONSE, "source": "qual", "text": comment, "score": 9.0, "score_type": "nps",
                    "customer": {"email": "nadia@example.ir", "name": "Nadia Karimi", "plan": "Business"},
                    "created_at": "2019-06-26T13:28:11.279000+00:00", "language": expected}
    (seen,) = vendor.seen
    assert (seen.method, seen.path, seen.headers["X-API-TOKEN"]) == ("GET", PATH, TOKEN)


async def test_skipped_questions_are_left_out() -> None:
    async with fake_vendor({PATH: Reply(body=response({"QID2_TEXT": "Only a comment"}))}) as vendor, \
            aiohttp.ClientSession() as http:
        (comment_only,) = await fetch(http, config(vendor.url, **OPTIONS), [f"{SURVEY}/{RESPONSE}"])
        vendor.replies[PATH] = Reply(body=response({"QID1": 0}))
        (score_only,) = await fetch(http, config(vendor.url, **OPTIONS), [f"{SURVEY}/{RESPONSE}"])
    assert comment_only["text"] == "Only a comment" and "score" not in comment_only
    assert (score_only["text"], score_only["score"], score_only["score_type"]) == ("", 0.0, "nps")


async def test_another_scale() -> None:
    async with fake_vendor({PATH: Reply(body=response({"QID4": "4"}))}) as vendor, aiohttp.ClientSession() as http:
        (item,) = await fetch(http, config(vendor.url, score_question="QID4", score_type="csat"),
                              [f"{SURVEY}/{RESPONSE}"])
    assert (item["score"], item["score_type"]) == (4.0, "csat")


async def test_rate_limit_and_refusals() -> None:
    async with fake_vendor({PATH: Reply(429, {"meta": {"httpStatus": "429 - Too Many Requests"}},
                                        {"Retry-After": "12"})}) as vendor, aiohttp.ClientSession() as http:
        with pytest.raises(RetryAfter) as waited:
            await fetch(http, config(vendor.url), [f"{SURVEY}/{RESPONSE}"])
        assert waited.value.seconds == 12
        vendor.replies[PATH] = Reply(401, {"meta": {"httpStatus": "401 - Unauthorized"}})
        with pytest.raises(SourceError) as refused:
            await fetch(http, config(vendor.url), [f"{SURVEY}/{RESPONSE}"])
        assert "--api-token" in str(refused.value) and TOKEN not in str(refused.value)
        assert await fetch(http, config(vendor.url), [f"{SURVEY}/R_gone"]) == []  # 404: deleted since


async def test_no_datacenter_is_a_clear_error() -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(SourceError, match="api-url"):
            await fetch(http, config(""), [f"{SURVEY}/{RESPONSE}"])


# end to end

async def test_end_to_end_through_the_secret_url(db_url: str) -> None:
    values = {"QID1": 3, "QID2_TEXT": "รอนานเกินไป ไม่มีใครตอบ", "userLanguage": "TH", "email": "a@example.com"}
    async with fake_vendor({PATH: Reply(body=response(values))}) as vendor, \
            running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        token = await add_source(running.runtime.db, box, KIND, "qual", {"api_token": TOKEN},
                                 {"api_url": vendor.url, **OPTIONS})
        assert token
        url = f"{running.url}/api/sources/qual/{token}"
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as handshake:
                assert handshake.status == 200
            async with http.post(f"{running.url}/api/sources/qual/wrong-token", data=published(),
                                 headers={"Content-Type": FORM}) as refused:
                assert refused.status == 401
            for expected in ({"accepted": 1}, {"duplicates": 1}):
                async with http.post(url, data=published(), headers={"Content-Type": FORM}) as answer:
                    assert answer.status == 202, await answer.text()
                    assert expected.items() <= (await answer.json()).items()
        async with running.runtime.db.session() as session:
            (stored,) = list(await session.exec(select(Feedback)))
    assert (stored.source, stored.external_id, stored.score, stored.score_type) == ("qual", RESPONSE, 3, "nps")
    assert (stored.text, stored.language) == ("รอนานเกินไป ไม่มีใครตอบ", "th")
    assert stored.created_at == datetime(2019, 6, 26, 13, 28, 11, 279000, tzinfo=UTC)
