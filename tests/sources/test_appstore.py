"""App Store Connect customer reviews: the published example translated, the ES256 token checked by a fake API
with the public key, pages walked newest first down to what was stored, errors that name no secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from adapters.sources import appstore
from adapters.sources.base import Page, RetryAfter, SourceConfig, SourceError
from bot.feedback.items import validate
from tests.sources.fake_stores import APP_ID, ISSUER_ID, KEY_ID, FakeAppStore, pem, serving

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "appstore"
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def config(fake: FakeAppStore, private_key: str | None = None, **options: str) -> SourceConfig:
    return SourceConfig(name="ios", kind="appstore", secrets={"private_key": private_key or fake.private_key},
                        options={"key_id": KEY_ID, "issuer_id": ISSUER_ID, "app_id": APP_ID, "api_url": fake.url,
                                 **options})


def test_the_published_example_becomes_one_item_with_title_body_stars_nickname_territory_and_utc_time() -> None:
    published = json.loads((FIXTURES / "customer-reviews.json").read_text())
    item = appstore.to_item(published["data"][0], "ios")
    assert item == {"id": "00000028-b08c-0014-729e-fbd500000000", "source": "ios",
                    "text": "Awesome!!!\n\nIt's a really fantastic app!", "score": 5, "score_type": "rating",
                    "customer": {"name": "Anne Johnson", "country": "USA"},
                    "created_at": "2017-11-15T16:10:34+00:00"}
    assert validate(item).created_at == datetime(2017, 11, 15, 16, 10, 34, tzinfo=UTC)


@pytest.mark.parametrize(("title", "body", "text"), [
    (None, "Only a body", "Only a body"),  # variation: no title
    ("Only a title", "", "Only a title"),  # variation: no body
    ("แอปดีมาก", "ใช้งานง่าย ไม่ค้างเลย", "แอปดีมาก\n\nใช้งานง่าย ไม่ค้างเลย"),  # variation: Thai
    ("عالی", "برنامه خیلی خوبی است", "عالی\n\nبرنامه خیلی خوبی است"),  # variation: Persian
    (7, "A title that is not text is left out", "A title that is not text is left out"),  # variation: hostile
])
def test_title_and_body_are_joined_when_both_are_there(title: object, body: str, text: str) -> None:
    review = {"type": "customerReviews", "id": "r1", "attributes": {
        "rating": 1, "title": title, "body": body, "reviewerNickname": "x", "createdDate": "2024-01-02T11:19:36-07:00",
        "territory": "THA"}}
    item = appstore.to_item(review, "ios")
    assert item["text"] == text
    assert validate(item).score == 1


@pytest.mark.parametrize("review", [
    {"type": "customerReviews", "id": "r1"},
    {"type": "customerReviews", "id": "r1", "attributes": {"createdDate": "yesterday"}},
    {"type": "customerReviews", "id": "r1", "attributes": {"createdDate": "2024-01-02T11:19:36"}},
    "not an object",
])
def test_a_review_the_api_would_not_send_is_a_source_error(review: object) -> None:
    with pytest.raises(SourceError):
        appstore.to_item(review, "ios")  # type: ignore[arg-type]


async def test_the_token_is_es256_with_key_id_issuer_audience_and_under_20_minutes() -> None:
    fake = FakeAppStore()
    fake.add("a", "2026-12-01T10:00:00-08:00")
    async with serving(fake), aiohttp.ClientSession() as http:
        page = await appstore.pull(http, config(fake), None, NOW)
    assert [i["id"] for i in page.items] == ["a"]
    assert fake.requests == [f"/v1/apps/{APP_ID}/customerReviews?sort=-createdDate&limit=200"]


async def test_a_key_apple_does_not_know_is_refused_and_the_error_quotes_apple_not_the_key() -> None:
    fake = FakeAppStore()
    other = pem(ec.generate_private_key(ec.SECP256R1()))
    async with serving(fake), aiohttp.ClientSession() as http:
        with pytest.raises(SourceError) as refused:
            await appstore.pull(http, config(fake, private_key=other), None, NOW)
    message = str(refused.value)
    assert "HTTP 401" in message and "Provide a properly configured token" in message
    assert "PRIVATE KEY" not in message and other.splitlines()[1] not in message


async def test_a_private_key_that_is_not_a_p8_key_is_a_source_error_without_the_key() -> None:
    fake = FakeAppStore()
    async with serving(fake), aiohttp.ClientSession() as http:
        with pytest.raises(SourceError) as bad:
            await appstore.pull(http, config(fake, private_key="not-a-key-sekrit"), None, NOW)
    assert "sekrit" not in str(bad.value)
    assert fake.requests == []


async def test_pages_are_walked_newest_first_and_the_next_walk_stops_at_what_was_stored() -> None:
    fake = FakeAppStore(page_size=2)
    for n in range(5):
        fake.add(f"r{n}", f"2026-12-01T10:0{n}:00Z")
    async with serving(fake), aiohttp.ClientSession() as http:
        pages = await _walk(http, config(fake), None)
        assert [[i["id"] for i in p.items] for p in pages] == [["r4", "r3"], ["r2", "r1"], ["r0"]]
        cursor = pages[-1].cursor
        fake.add("r5", "2026-12-01T10:05:00Z")
        fake.add("r6", "2026-12-01T10:05:00Z")  # variation: two reviews in the same second
        fake.served.clear()
        again = await _walk(http, config(fake), cursor)
        assert [[i["id"] for i in p.items] for p in again] == [["r6", "r5"], []]
        assert fake.served == ["r6", "r5", "r4", "r3"]  # the walk stops at the first page reaching r4
        fake.add("r7", "2026-12-01T10:05:00Z")  # variation: a third review in that same second, seen later
        third = await _walk(http, config(fake), again[-1].cursor)
        assert [[i["id"] for i in p.items] for p in third] == [["r7"]]


async def test_a_walk_interrupted_between_pages_resumes_from_its_page_not_from_the_top() -> None:
    fake = FakeAppStore(page_size=2)
    for n in range(4):
        fake.add(f"r{n}", f"2026-12-01T10:0{n}:00Z")
    async with serving(fake), aiohttp.ClientSession() as http:
        first = await appstore.pull(http, config(fake), None, NOW)
        assert first.more
        fake.add("new", "2026-12-01T11:00:00Z")  # arrives mid-walk: the next walk finds it
        fake.failures.queue.append((429, {"Retry-After": "7"}))
        with pytest.raises(RetryAfter) as wait:
            await appstore.pull(http, config(fake), first.cursor, NOW)
        assert wait.value.seconds == 7
        rest = await _walk(http, config(fake), first.cursor)
        later = await _walk(http, config(fake), rest[-1].cursor)
    stored = [i["id"] for p in [first, *rest, *later] for i in p.items]
    assert sorted(stored) == ["new", "r0", "r1", "r2", "r3"]
    assert len(stored) == len(set(stored))


async def test_a_next_link_to_another_host_is_not_followed_with_the_token() -> None:
    fake = FakeAppStore()
    cursor = json.dumps({"seen": None, "top": None, "next": "https://evil.example/v1/apps/1/customerReviews"})
    async with serving(fake), aiohttp.ClientSession() as http:
        with pytest.raises(SourceError):
            await appstore.pull(http, config(fake), cursor, NOW)
    assert fake.requests == []


async def _walk(http: aiohttp.ClientSession, source: SourceConfig, cursor: str | None) -> list[Page]:
    pages = []
    while True:
        page = await appstore.pull(http, source, cursor, NOW)
        pages.append(page)
        cursor = page.cursor
        if not page.more:
            return pages
