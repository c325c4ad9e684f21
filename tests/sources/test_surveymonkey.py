"""SurveyMonkey: the published webhook events and response details, its Sm-Signature, the details API on a fake
SurveyMonkey on loopback, and one delivery end to end (HEAD handshake, signed event, answers fetched)."""

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

from adapters.sources.base import BadPayload, Delivery, Refused, RetryAfter, SourceConfig, SourceError
from adapters.sources.kinds import KINDS
from adapters.sources.registry import add_source, secret_box
from adapters.sources.surveymonkey import KIND, fetch, translate, verify
from storage.tables import Feedback
from tests.support.server import running_app
from tests.support.vendors import Reply, fake_vendor

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "surveymonkey"
API_KEY, API_SECRET, TOKEN = "sm-client-id-123", "sm-api-secret-456", "sm-access-token-789"
SURVEY, RESPONSE = "105724755", "5007154402"
STAR_QUESTION, STAR_CHOICE = "319352786", "3057839051"
NPS_QUESTION, COMMENT_QUESTION = "400000001", "400000002"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def published(name: str) -> dict[str, Any]:
    return json.loads(raw(name))


def sign(body: bytes, api_key: str = API_KEY, secret: str = API_SECRET) -> str:
    """As SurveyMonkey documents it: base64 of the HMAC-SHA1 of the raw body keyed with "<api_key>&<api_secret>"."""
    return base64.b64encode(hmac.new(f"{api_key}&{secret}".encode(), body, hashlib.sha1).digest()).decode()


def delivery(body: bytes, headers: dict[str, str] | None = None) -> Delivery:
    return Delivery(method="POST", headers=CIMultiDict(headers or {}), body=body, query={},
                    received_at=datetime(2026, 12, 7, tzinfo=UTC), content_type="application/json")


def config(api_url: str = "https://api.surveymonkey.com", **options: str) -> SourceConfig:
    return SourceConfig(name="monkey", kind="surveymonkey",
                        secrets={"secret": API_SECRET, "access_token": TOKEN},
                        options={"api_key": API_KEY, "api_url": api_url, **options})


def survey_definition() -> dict[str, Any]:
    """VARIATION (not published): what `GET /v3/surveys/{id}/details` answers, in the documented question shapes
    of includes/_questions.md (a star rating's choices carry `weight` and empty `text`; an NPS question's choices
    are "0"…"10") with ids, which the published example leaves as placeholders."""
    star = {"id": STAR_QUESTION, "family": "matrix", "subtype": "rating",
            "display_options": {"display_type": "emoji", "display_subtype": "star"},
            "answers": {"rows": [{"id": "9001", "text": "", "position": 1}],
                        "choices": [{"id": str(3057839047 + w), "weight": w, "text": "", "position": w}
                                    for w in range(1, 6)]}}
    nps = {"id": NPS_QUESTION, "family": "matrix", "subtype": "rating",
           "answers": {"choices": [{"id": f"77{n:02d}", "text": str(n), "position": n + 1} for n in range(11)]}}
    comment = {"id": COMMENT_QUESTION, "family": "open_ended", "subtype": "essay"}
    return {"id": SURVEY, "title": "Customer satisfaction", "language": "en",
            "pages": [{"id": "103332310", "questions": [star, nps, comment]}]}


def nps_response(score: int | None, comment: str | None) -> dict[str, Any]:
    """VARIATION: the published details example answering the NPS and comment questions (either may be skipped),
    with a contact and custom variables."""
    details = published("response-details.json")
    questions = []
    if score is not None:
        questions.append({"id": NPS_QUESTION, "answers": [{"choice_id": f"77{score:02d}", "row_id": "9002"}]})
    if comment is not None:
        questions.append({"id": COMMENT_QUESTION, "answers": [{"text": comment}]})
    details["pages"] = [{"id": "103332310", "questions": questions}]
    details["metadata"] = {"contact": {"email": {"type": "string", "value": "somchai@example.co.th"},
                                       "first_name": {"type": "string", "value": "Somchai"},
                                       "last_name": {"type": "string", "value": "Jaidee"}}}
    details["custom_variables"] = {"plan": "Enterprise", "Segment": "APAC"}
    return details


def api(details: dict[str, Any] | None = None) -> dict[str, Reply]:
    return {f"/v3/surveys/{SURVEY}/responses/{RESPONSE}/details": Reply(body=details or published(
                "response-details.json")),
            f"/v3/surveys/{SURVEY}/details": Reply(body=survey_definition())}


# translation (pure)

@pytest.mark.parametrize("name", ["response-event.json", "collector-event.json"])
def test_published_events_name_the_response_to_fetch(name: str) -> None:
    translated = translate(delivery(raw(name)), config())
    assert (translated.items, translated.fetch) == ([], ["123456789/123456"])


def test_an_edit_is_fetched_too() -> None:
    event = published("response-event.json") | {"event_type": "response_updated"}  # VARIATION: response_updated
    assert translate(delivery(json.dumps(event).encode()), config()).fetch == ["123456789/123456"]


@pytest.mark.parametrize("event_type", ["response_created", "response_deleted", "response_disqualified",
                                        "collector_created", "survey_updated"])
def test_events_without_answers_store_nothing(event_type: str) -> None:
    event = published("response-event.json") | {"event_type": event_type}  # VARIATION: other event types
    translated = translate(delivery(json.dumps(event).encode()), config())
    assert (translated.items, translated.fetch) == ([], [])


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"name": "no event type"}',
                                  json.dumps(published("response-event.json") | {"object_id": "../../users/me"}
                                             ).encode(),
                                  json.dumps(published("response-event.json") | {"resources": {}}).encode(),
                                  json.dumps(published("response-event.json") | {"object_type": "survey"}).encode()])
def test_unreadable_events_are_bad_payloads(body: bytes) -> None:
    with pytest.raises(BadPayload):
        translate(delivery(body), config())


# the signature

def test_signature_as_documented() -> None:
    body = raw("response-event.json")
    verify(delivery(body, {"Sm-Signature": sign(body), "Sm-Apikey": API_KEY}), config())
    verify(delivery(body, {"Sm-Signature": sign(body)}), config())  # Sm-Apikey is informative only


@pytest.mark.parametrize("headers", [
    {},  # missing header
    {"Sm-Signature": ""},
    {"Sm-Signature": sign(raw("response-event.json"), secret="another app's secret")},  # wrong secret
    {"Sm-Signature": sign(raw("response-event.json"), api_key="another-key")},  # wrong key half
    {"Sm-Signature": sign(raw("response-event.json")), "Sm-Apikey": "another-key"},
    {"Sm-Signature": "ŝïĝñåţûŕé"},
])
def test_bad_signatures_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Refused):
        verify(delivery(raw("response-event.json"), headers), config())


def test_tampered_body_is_refused() -> None:
    body = raw("response-event.json")
    with pytest.raises(Refused):
        verify(delivery(body.replace(b"123456", b"654321"), {"Sm-Signature": sign(body)}), config())


# the details API, on a fake SurveyMonkey

async def test_published_details_with_a_star_rating() -> None:
    async with fake_vendor(api()) as vendor, aiohttp.ClientSession() as http:
        (item,) = await fetch(http, config(vendor.url, score_question=STAR_QUESTION, score_type="rating"),
                              [f"{SURVEY}/{RESPONSE}"])
    assert item == {"id": RESPONSE, "source": "monkey", "text": "", "score": 4.0, "score_type": "rating",
                    "created_at": "2015-12-28T21:59:38+00:00", "updated_at": "2015-12-28T21:59:38+00:00",
                    "url": "https://www.surveymonkey.com/analyze/browse/"}
    details_call = vendor.seen[0]
    assert details_call.path == f"/v3/surveys/{SURVEY}/responses/{RESPONSE}/details"
    assert details_call.headers["Authorization"] == f"bearer {TOKEN}"


@pytest.mark.parametrize("comment", ["บริการดีมาก แต่แอปช้าไปหน่อย", "پشتیبانی عالی بود ولی برنامه کند است",
                                     "Поддержка отличная, но приложение тормозит"])
async def test_nps_and_comment_by_question_id(comment: str) -> None:
    options = {"score_question": NPS_QUESTION, "comment_question": COMMENT_QUESTION}
    async with fake_vendor(api(nps_response(9, comment))) as vendor, aiohttp.ClientSession() as http:
        (item,) = await fetch(http, config(vendor.url, **options), [f"{SURVEY}/{RESPONSE}"])
    assert (item["score"], item["score_type"], item["text"]) == (9.0, "nps", comment)
    assert item["customer"] == {"email": "somchai@example.co.th", "name": "Somchai Jaidee", "plan": "Enterprise",
                                "segment": "APAC"}


async def test_nps_zero_is_a_score() -> None:
    options = {"score_question": NPS_QUESTION, "comment_question": COMMENT_QUESTION}
    async with fake_vendor(api(nps_response(0, None))) as vendor, aiohttp.ClientSession() as http:
        (item,) = await fetch(http, config(vendor.url, **options), [f"{SURVEY}/{RESPONSE}"])
    assert (item["score"], item["text"]) == (0.0, "")


async def test_a_skipped_score_question_leaves_the_score_out() -> None:
    options = {"score_question": NPS_QUESTION, "comment_question": COMMENT_QUESTION}
    async with fake_vendor(api(nps_response(None, "Great support"))) as vendor, aiohttp.ClientSession() as http:
        (item,) = await fetch(http, config(vendor.url, **options), [f"{SURVEY}/{RESPONSE}"])
    assert "score" not in item and "score_type" not in item
    assert item["text"] == "Great support"
    assert [s.path for s in vendor.seen] == [f"/v3/surveys/{SURVEY}/responses/{RESPONSE}/details"]


async def test_partial_and_deleted_responses_are_not_stored() -> None:
    partial = published("response-details.json") | {"response_status": "partial"}  # VARIATION: partial
    async with fake_vendor(api(partial)) as vendor, aiohttp.ClientSession() as http:
        assert await fetch(http, config(vendor.url), [f"{SURVEY}/{RESPONSE}"]) == []
        assert await fetch(http, config(vendor.url), [f"{SURVEY}/999"]) == []  # 404: deleted since the event


async def test_the_survey_definition_is_read_once_per_fetch() -> None:
    replies = api()
    replies[f"/v3/surveys/{SURVEY}/responses/5007154403/details"] = Reply(
        body=published("response-details.json") | {"id": "5007154403"})
    async with fake_vendor(replies) as vendor, aiohttp.ClientSession() as http:
        items = await fetch(http, config(vendor.url, score_question=STAR_QUESTION, score_type="rating"),
                            [f"{SURVEY}/{RESPONSE}", f"{SURVEY}/5007154403"])
    assert [i["id"] for i in items] == [RESPONSE, "5007154403"]
    assert [s.path for s in vendor.seen].count(f"/v3/surveys/{SURVEY}/details") == 1


async def test_rate_limit_asks_to_wait() -> None:
    replies = api()
    replies[f"/v3/surveys/{SURVEY}/responses/{RESPONSE}/details"] = Reply(
        429, {"error": {"message": "Too many requests"}}, {"Retry-After": "30"})
    async with fake_vendor(replies) as vendor, aiohttp.ClientSession() as http:
        with pytest.raises(RetryAfter) as waited:
            await fetch(http, config(vendor.url), [f"{SURVEY}/{RESPONSE}"])
    assert waited.value.seconds == 30


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_token_is_a_clear_error_without_the_token(status: int) -> None:
    replies = api()
    replies[f"/v3/surveys/{SURVEY}/responses/{RESPONSE}/details"] = Reply(status, {"error": {"id": "1014"}})
    async with fake_vendor(replies) as vendor, aiohttp.ClientSession() as http:
        with pytest.raises(SourceError) as failed:
            await fetch(http, config(vendor.url), [f"{SURVEY}/{RESPONSE}"])
    assert f"HTTP {status}" in str(failed.value) and "--access-token" in str(failed.value)
    assert TOKEN not in str(failed.value) and API_SECRET not in str(failed.value)


async def test_an_answer_that_is_not_json_is_an_error() -> None:
    replies = api()
    replies[f"/v3/surveys/{SURVEY}/responses/{RESPONSE}/details"] = Reply(body=b"<html>maintenance</html>")
    async with fake_vendor(replies) as vendor, aiohttp.ClientSession() as http:
        with pytest.raises(SourceError):
            await fetch(http, config(vendor.url), [f"{SURVEY}/{RESPONSE}"])


async def test_an_unreachable_api_asks_to_wait() -> None:
    async with fake_vendor({}) as vendor:
        closed = vendor.url  # the server stops when the block ends: nothing listens there any more
    async with aiohttp.ClientSession() as http:
        with pytest.raises(RetryAfter):
            await fetch(http, config(closed), [f"{SURVEY}/{RESPONSE}"])


def test_registered_with_a_head_handshake() -> None:
    assert KINDS["surveymonkey"] is KIND
    assert KIND.handshake == frozenset({"HEAD"}) and not KIND.secret_url


# end to end

async def test_end_to_end_head_handshake_signed_event_and_fetched_answers(db_url: str) -> None:
    options = {"score_question": NPS_QUESTION, "comment_question": COMMENT_QUESTION}
    event = published("response-event.json")
    event["object_id"], event["resources"]["survey_id"] = RESPONSE, SURVEY
    body = json.dumps(event).encode()
    edited = copy.deepcopy(event) | {"event_type": "response_updated"}
    edited_body = json.dumps(edited).encode()
    async with fake_vendor(api(nps_response(6, "Поддержка отличная, но приложение тормозит"))) as vendor, \
            running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        await add_source(running.runtime.db, box, KIND, "monkey", {"secret": API_SECRET, "access_token": TOKEN},
                         {"api_key": API_KEY, "api_url": vendor.url, **options})
        url = f"{running.url}/api/sources/monkey"
        async with aiohttp.ClientSession() as http:
            async with http.head(url) as handshake:
                assert handshake.status == 200
            async with http.post(url, data=body, headers={"Sm-Signature": sign(body, secret="wrong")}) as refused:
                assert refused.status == 401
            for expected in ({"accepted": 1}, {"duplicates": 1}):
                async with http.post(url, data=body, headers={"Sm-Signature": sign(body), "Sm-Apikey": API_KEY,
                                                              "Content-Type": "application/json"}) as answer:
                    assert answer.status == 202, await answer.text()
                    assert expected.items() <= (await answer.json()).items()
            vendor.replies[f"/v3/surveys/{SURVEY}/responses/{RESPONSE}/details"] = Reply(
                body=nps_response(8, "Поддержка отличная, приложение стало быстрее"))  # VARIATION: the edit
            async with http.post(url, data=edited_body, headers={"Sm-Signature": sign(edited_body)}) as answer:
                assert answer.status == 202, await answer.text()
        async with running.runtime.db.session() as session:
            (stored,) = list(await session.exec(select(Feedback)))
    assert (stored.source, stored.external_id, stored.score, stored.score_type) == ("monkey", RESPONSE, 8, "nps")
    assert stored.text == "Поддержка отличная, приложение стало быстрее"
    assert stored.customer is not None and stored.customer["email"] == "somchai@example.co.th"
    assert stored.created_at == datetime(2015, 12, 28, 21, 59, 38, tzinfo=UTC)
    assert stored.url == "https://www.surveymonkey.com/analyze/browse/"
