"""What the tools' APIs answer, as a real network delivers it and as a careless or hostile API may write it: bodies
that arrive in several pieces or too large, wild Retry-After values, one unreadable record in a page, and error
text that echoes the credential it refused. Real kinds and the real route and pull runner, against fake vendors on
loopback."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.sources import api_json, delighted, googleplay, zendesk
from adapters.sources.api_json import DEFAULT_WAIT, MAX_WAIT, get_json, retry_after
from adapters.sources.base import RetryAfter, SourceConfig, SourceError
from adapters.sources.kinds import KINDS
from adapters.sources.registry import add_source, secret_box
from adapters.sources.route import FETCH_RETRY_AFTER, MAX_RETRY_AFTER, retry_header
from adapters.sources.scrub import scrub
from adapters.sources.surveys import http_json
from storage.engine import Database
from tests.sources.fake_stores import APP_ID, ISSUER_ID, KEY_ID, PACKAGE, FakeAppStore, FakeGooglePlay, serving
from tests.sources.fixture_kinds import SIGNATURE, SIGNED, sign
from tests.sources.pull_support import Pulls
from tests.support.server import running_app
from tests.support.vendors import Reply, fake_vendor

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
TOKEN = "zd-oauth-SECRET-0123456789"


@dataclass
class Split:
    """An answer written in `pieces` writes with a pause between them, as TCP segments and TLS records arrive."""

    body: bytes
    pieces: int = 2
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    length: bool = True
    """Send Content-Length (else the body is chunked, its size unknown until its end)."""


@pytest.fixture
async def split_vendor() -> AsyncIterator[tuple[dict[str, Split], str]]:
    answers: dict[str, Split] = {}

    async def answer(request: web.Request) -> web.StreamResponse:
        split = answers[request.path]
        headers = {"Content-Type": "application/json", **split.headers}
        if split.length:
            headers["Content-Length"] = str(len(split.body))
        response = web.StreamResponse(status=split.status, headers=headers)
        await response.prepare(request)
        size = -(-len(split.body) // split.pieces)
        for start in range(0, len(split.body), size):
            if start:
                await asyncio.sleep(0.05)
            await response.write(split.body[start:start + size])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    async with TestServer(app, host="127.0.0.1") as server:
        yield answers, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def ratings(count: int, comment: str = "fine") -> list[dict[str, Any]]:
    return [{"id": n, "ticket_id": 100 + n, "score": "good", "comment": comment,
             "created_at": f"2026-12-06T10:{n % 60:02d}:00Z"} for n in range(1, count + 1)]


def zendesk_config(url: str, **secrets: str) -> SourceConfig:
    return SourceConfig("zd", "zendesk", secrets or {"oauth_token": TOKEN}, {"api_url": url})


def delighted_responses(count: int) -> list[dict[str, Any]]:
    return [{"id": str(n), "person": {"id": str(n), "email": f"p{n}@example.com"}, "survey_type": "nps",
             "score": n % 11, "comment": "ok", "created_at": 1_700_000_000 + n, "updated_at": 1_700_000_000 + n}
            for n in range(1, count + 1)]


# Bodies in pieces, and too large

@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
async def test_a_zendesk_page_in_two_pieces_is_read_whole(split_vendor, http, length: bool) -> None:  # type: ignore[no-untyped-def]
    answers, url = split_vendor
    body = json.dumps({"satisfaction_ratings": ratings(30), "meta": {"has_more": False}}).encode()
    answers["/api/v2/satisfaction_ratings.json"] = Split(body, length=length)
    page = await zendesk.pull(http, zendesk_config(url), None, NOW)
    assert len(page.items) == 30 and page.rejected == 0


async def test_a_large_page_in_many_pieces_is_read_whole(split_vendor, http) -> None:  # type: ignore[no-untyped-def]
    answers, url = split_vendor
    body = json.dumps({"satisfaction_ratings": ratings(100, "x" * 30_000)}).encode()  # 3 MB
    answers["/big"] = Split(body, pieces=40)
    data = await get_json(http, f"{url}/big", {}, "Zendesk")
    assert len(data["satisfaction_ratings"]) == 100


async def test_a_survey_answer_in_two_pieces_is_read_whole(split_vendor, http) -> None:  # type: ignore[no-untyped-def]
    answers, url = split_vendor
    details = {"id": "5", "pages": [{"questions": [{"id": str(n), "answers": [{"text": "y" * 50}]}
                                                  for n in range(60)]}]}
    answers["/v3/surveys/1/responses/5/details"] = Split(json.dumps(details).encode())
    got = await http_json(http, url, "/v3/surveys/1/responses/5/details", {}, tool="SurveyMonkey",
                          credential="--api-key")
    assert got == details


async def test_a_delighted_page_in_two_pieces_is_read_whole(split_vendor, http) -> None:  # type: ignore[no-untyped-def]
    answers, url = split_vendor
    answers["/v1/survey_responses.json"] = Split(json.dumps(delighted_responses(40)).encode())
    config = SourceConfig("nps", "delighted", {"secret": "delighted-key"}, {"api_url": url})
    page = await delighted.pull(http, config, None, NOW)
    assert [item["id"] for item in page.items] == [str(n) for n in range(1, 41)]


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("reader", ["zendesk", "delighted", "surveymonkey"])
async def test_an_answer_over_the_cap_is_refused(split_vendor, http, reader: str, length: bool,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_json, "MAX_BODY", 10_000)
    answers, url = split_vendor
    big = Split(json.dumps({"satisfaction_ratings": ratings(200)}).encode(), pieces=4, length=length)
    answers["/api/v2/satisfaction_ratings.json"] = answers["/details"] = big
    answers["/v1/survey_responses.json"] = Split(json.dumps(delighted_responses(200)).encode(), pieces=4,
                                                 length=length)
    with pytest.raises(SourceError, match="answered with more than"):
        if reader == "zendesk":
            await zendesk.pull(http, zendesk_config(url), None, NOW)
        elif reader == "delighted":
            await delighted.pull(http, SourceConfig("nps", "delighted", {"secret": "k"}, {"api_url": url}), None, NOW)
        else:
            await http_json(http, url, "/details", {}, tool="SurveyMonkey", credential="--api-key")


# Retry-After

@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), ("0", 1.0), ("99999999", MAX_WAIT), ("inf", DEFAULT_WAIT), ("1e999", DEFAULT_WAIT),
    ("nan", DEFAULT_WAIT), ("-5", DEFAULT_WAIT), ("soon", DEFAULT_WAIT), (None, DEFAULT_WAIT),
    ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_WAIT), ("Mon, 07 Dec 2026 15:02:00 GMT", 120.0),
    ("Mon, 01 Jan 2001 00:00:00 GMT", 1.0), ("Fri, 31 Dec 9999 23:59:59 +9999", DEFAULT_WAIT),
])
def test_retry_after_is_kept_within_a_second_and_a_day(value: str | None, seconds: float) -> None:
    assert retry_after(value, NOW) == seconds


@pytest.mark.parametrize(("seconds", "header"), [
    (42.2, 43), (0.0, 1), (-3.0, 1), (1e12, MAX_RETRY_AFTER), (float("inf"), FETCH_RETRY_AFTER),
    (float("nan"), FETCH_RETRY_AFTER),
])
def test_the_routes_retry_after_header_is_whole_seconds_in_range(seconds: float, header: int) -> None:
    assert retry_header(seconds) == header


async def test_a_vendors_wild_retry_after_reaches_the_pull_clamped(http) -> None:  # type: ignore[no-untyped-def]
    async with fake_vendor({"/api/v2/satisfaction_ratings.json": Reply(429, {}, {"Retry-After": "inf"}),
                            "/v1/survey_responses.json": Reply(429, {}, {"Retry-After": "1e999"})}) as vendor:
        with pytest.raises(RetryAfter) as zendesk_wait:
            await zendesk.pull(http, zendesk_config(vendor.url), None, NOW)
        vendor.replies["/api/v2/satisfaction_ratings.json"] = Reply(429, {}, {"Retry-After": "99999999"})
        with pytest.raises(RetryAfter) as zendesk_long:
            await zendesk.pull(http, zendesk_config(vendor.url), None, NOW)
        with pytest.raises(RetryAfter) as delighted_wait:
            await delighted.pull(http, SourceConfig("nps", "delighted", {"secret": "k"}, {"api_url": vendor.url}),
                                 None, NOW)
    assert (zendesk_wait.value.seconds, zendesk_long.value.seconds) == (DEFAULT_WAIT, MAX_WAIT)
    assert delighted_wait.value.seconds == DEFAULT_WAIT


@pytest.mark.parametrize(("value", "header"), [("inf", "60"), ("1e999", "60"), ("nan", "60"),
                                               ("99999999", str(MAX_RETRY_AFTER)), ("-5", "1")])
async def test_the_route_answers_503_never_500_whatever_the_api_asks(db_url: str, value: str, header: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "signed", SIGNED)
    secret = "whsec-test-0123456789"
    body = json.dumps({"fetch": ["r1"]}).encode()
    async with running_app(db_url) as running, \
            fake_vendor({"/responses/r1": Reply(429, {}, {"Retry-After": value})}) as vendor:
        await add_source(running.runtime.db, secret_box(running.runtime.core.services.keys), SIGNED, "tool-a",
                         {"secret": secret, "api_key": "key-abcdef"}, {"api_url": vendor.url})
        async with aiohttp.ClientSession() as session, session.post(
                f"{running.url}/api/sources/tool-a", data=body,
                headers={SIGNATURE: sign(secret, body), "Content-Type": "application/json"}) as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == header


# One unreadable record

async def test_a_zendesk_rating_with_a_huge_score_is_skipped_and_counted(http) -> None:  # type: ignore[no-untyped-def]
    good, bad, later = ratings(3)
    bad["score"] = 10**400
    async with fake_vendor({"/api/v2/satisfaction_ratings.json": Reply(200, {
            "satisfaction_ratings": [good, bad, later], "meta": {"has_more": False}})}) as vendor:
        page = await zendesk.pull(http, zendesk_config(vendor.url), None, NOW)
    assert [item["id"] for item in page.items] == ["101", "103"] and page.rejected == 1
    assert json.loads(page.cursor or "")["high"] == int(datetime(2026, 12, 6, 10, 3, tzinfo=UTC).timestamp())


async def test_a_delighted_response_without_an_id_is_skipped_and_counted(http) -> None:  # type: ignore[no-untyped-def]
    responses = delighted_responses(3)
    del responses[1]["id"]
    async with fake_vendor({"/v1/survey_responses.json": Reply(200, [*responses, "junk"])}) as vendor:
        page = await delighted.pull(http, SourceConfig("nps", "delighted", {"secret": "k"}, {"api_url": vendor.url}),
                                    None, NOW)
    assert [item["id"] for item in page.items] == ["1", "3"] and page.rejected == 2


async def test_a_google_play_review_without_lastmodified_is_skipped_and_counted(http) -> None:  # type: ignore[no-untyped-def]
    fake = FakeGooglePlay()
    async with serving(fake):
        fake.add("g1", 1_765_000_000, "Good app")
        fake.add("g2", 1_765_000_100, "Odd one")
        fake.add("g3", 1_765_000_200, "Also good")
        del fake.reviews[1]["comments"][0]["userComment"]["lastModified"]
        config = SourceConfig("android", "googleplay", {"service_account": fake.service_account()},
                              {"package": PACKAGE, "api_url": fake.url})
        page = await googleplay.pull(http, config, None, NOW, tokens=googleplay.Tokens())
    assert [item["id"] for item in page.items] == ["g3", "g1"] and page.rejected == 1


async def test_an_unreadable_app_store_review_is_counted_and_the_rest_stored(db: Database, http) -> None:  # type: ignore[no-untyped-def]
    fake = FakeAppStore()
    async with serving(fake):
        fake.add("r1", "2026-12-01T10:01:00Z")
        fake.add("r2", "2026-12-01T10:02:00Z")
        fake.add("r3", "2026-12-01T10:03:00Z")
        del fake.reviews[1]["attributes"]["createdDate"]  # r2
        pulls = Pulls.make(db, http)
        await pulls.add("appstore", "ios", {"private_key": fake.private_key},
                        {"key_id": KEY_ID, "issuer_id": ISSUER_ID, "app_id": APP_ID, "api_url": fake.url})
        assert await pulls.runner().tick() == 2
    assert set(await pulls.items("ios")) == {"r1", "r3"}
    assert (await pulls.source("ios")).last_error is None
    assert await pulls.tally("ios") == {"accepted": 2, "updated": 0, "duplicates": 0, "rejected": 1}


# Secrets echoed back

def test_scrub_cuts_secrets_credentials_and_their_base64() -> None:
    config = SourceConfig("zd", "zendesk", {"api_token": "tok-0123456789", "short": "ab"}, {"email": "a@b.co"})
    basic = base64.b64encode(b"a@b.co/token:tok-0123456789").decode()
    assert scrub("invalid token tok-0123456789", config) == "invalid token …"
    assert scrub(f"refused Basic {basic} here", config) == "refused Basic … here"
    assert scrub(f"refused {basic}", config) == "refused …"
    assert scrub("Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig", config) == "Bearer …"
    ordinary = "Zendesk answered HTTP 401: Couldn't authenticate you (satisfaction_ratings, ab)"
    assert scrub(ordinary, config) == ordinary


@pytest.mark.parametrize("echo", [
    "invalid token {token}", "bad header Bearer {token}", "bad header Basic {basic}", "who is {basic}?",
])
async def test_a_pull_error_echoing_the_credential_is_stored_scrubbed(db: Database, http, echo: str) -> None:  # type: ignore[no-untyped-def]
    basic = base64.b64encode(f"admin@example.com/token:{TOKEN}".encode()).decode()
    async with fake_vendor({}) as vendor:
        vendor.replies["/api/v2/satisfaction_ratings.json"] = Reply(401, {"error": {
            "message": echo.format(token=TOKEN, basic=basic)}})
        pulls = Pulls.make(db, http)
        await pulls.add("zendesk", "zd", {"api_token": TOKEN}, {"api_url": vendor.url, "email": "admin@example.com"})
        await pulls.runner().tick()
    error = (await pulls.source("zd")).last_error or ""
    assert "HTTP 401" in error and "…" in error
    assert TOKEN not in error and basic not in error and basic[:16] not in error
