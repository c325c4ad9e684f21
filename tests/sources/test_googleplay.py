"""Google Play reviews: the published examples translated, the service account's RS256 assertion checked by a
fake token endpoint with the public key, the token reused, pages walked, and an edited review updating the item."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.sources import googleplay
from adapters.sources.base import SourceConfig, SourceError
from bot.feedback.items import validate
from storage.engine import Database
from tests.sources.fake_stores import PACKAGE, FakeGooglePlay, pem, serving
from tests.sources.pull_support import Pulls

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources" / "googleplay"
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


@pytest.fixture
async def play() -> AsyncIterator[FakeGooglePlay]:
    fake = FakeGooglePlay()
    async with serving(fake):
        yield fake


def config(fake: FakeGooglePlay, account: str | None = None) -> SourceConfig:
    return SourceConfig(name="android", kind="googleplay",
                        secrets={"service_account": account or fake.service_account()},
                        options={"package": PACKAGE, "api_url": fake.url})


def test_the_published_list_becomes_items_with_stars_author_language_and_utc_time() -> None:
    published = json.loads((FIXTURES / "reviews-list.json").read_text())
    first, second = (googleplay.to_item(r, "android") for r in published["reviews"])
    assert first == {"id": "12345678", "source": "android", "text": "This is the best app ever!", "score": 5,
                     "score_type": "rating", "customer": {"name": "Jane Bloggs"},
                     "created_at": "2015-10-01T05:20:26.713000+00:00", "updated_at": "2015-10-01T05:20:26.713000+00:00"}
    assert second == {"id": "11223344", "source": "android", "text": "I love using this app!", "score": 5,
                      "score_type": "rating", "customer": {"name": "John Doe"}, "language": "en",
                      "tags": ["version:1.2.3", "device:trltecan"],
                      "created_at": "1974-06-27T16:22:14.213000+00:00",  # the developer's reply is not the review
                      "updated_at": "1974-06-27T16:22:14.213000+00:00"}
    assert validate(second).language == "en"


def test_a_translated_review_keeps_the_text_google_returned() -> None:
    published = json.loads((FIXTURES / "review-translated.json").read_text())
    assert googleplay.to_item(published, "android")["text"] == "This is the best app ever!"


@pytest.mark.parametrize(("text", "stored"), [
    ("Great\tWorks offline too", "Great\n\nWorks offline too"),  # variation: title and body, tab-separated
    ("Отлично\tРаботает без интернета", "Отлично\n\nРаботает без интернета"),  # variation: Russian
    ("ดีมาก", "ดีมาก"),  # variation: Thai, no title
    (12, ""),  # variation: hostile, a text that is not text (the ingest keeps the stars with no words)
])
def test_a_title_separated_by_a_tab_is_joined_as_title_and_body(text: object, stored: str) -> None:
    review = {"reviewId": "x", "comments": [{"userComment": {
        "text": text, "lastModified": {"seconds": "1765000000", "nanos": 0}, "starRating": 2,
        "reviewerLanguage": "xx-not-a-language"}}]}  # variation: a language code we don't know is left out
    item = googleplay.to_item(review, "android")
    assert item["text"] == stored and "language" not in item and "customer" not in item


@pytest.mark.parametrize("review", [
    {"reviewId": "x"},
    {"reviewId": "x", "comments": [{"developerComment": {"text": "thanks"}}]},
    {"reviewId": "x", "comments": [{"userComment": {"text": "a", "lastModified": {"seconds": "soon"}}}]},
    {"reviewId": "x", "comments": [{"userComment": {"text": "a", "lastModified": {"seconds": "9" * 30}}}]},
])
def test_a_review_the_api_would_not_send_is_a_source_error(review: dict[str, object]) -> None:
    with pytest.raises(SourceError):
        googleplay.to_item(review, "android")


async def test_the_assertion_is_verified_with_the_public_key_and_the_token_is_reused(play: FakeGooglePlay) -> None:
    play.add("a", 1_765_000_000, "Nice")
    async with aiohttp.ClientSession() as http:
        tokens = googleplay.Tokens()
        first = await googleplay.pull(http, config(play), None, NOW, tokens=tokens)
        second = await googleplay.pull(http, config(play), first.cursor, NOW, tokens=tokens)
    assert [i["id"] for i in first.items] == ["a"] and second.items == []
    assert len(play.tokens_issued) == 1
    assert play.requests[0] == f"/androidpublisher/v3/applications/{PACKAGE}/reviews?maxResults=100"


async def test_a_key_google_does_not_know_is_refused_in_googles_words_without_the_key(play: FakeGooglePlay) -> None:
    other = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    account = play.service_account(private_key=other)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(SourceError) as refused:
            await googleplay.pull(http, config(play, account), None, NOW, tokens=googleplay.Tokens())
    assert "Invalid JWT Signature" in str(refused.value)
    assert "PRIVATE KEY" not in str(refused.value) and play.requests == []


@pytest.mark.parametrize("account", ["not json", json.dumps({"client_email": "a@b"}),
                                     json.dumps({"client_email": "a@b", "private_key": "sekrit", "token_uri": "x"})])
async def test_a_service_account_that_is_not_one_is_a_source_error_without_its_contents(account: str) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(SourceError) as bad:
            await googleplay.pull(http, SourceConfig("android", "googleplay", {"service_account": account},
                                                     {"package": PACKAGE}), None, NOW, tokens=googleplay.Tokens())
    assert "sekrit" not in str(bad.value)


async def test_pages_follow_the_next_page_token_and_stop_at_what_was_stored(play: FakeGooglePlay) -> None:
    play.page_size = 2
    for n in range(5):
        play.add(f"g{n}", 1_765_000_000 + n, f"Review {n}")
    async with aiohttp.ClientSession() as http:
        cursor, seen = None, []
        while True:
            page = await googleplay.pull(http, config(play), cursor, NOW)
            seen += [i["id"] for i in page.items]
            cursor = page.cursor
            if not page.more:
                break
        assert seen == ["g4", "g3", "g2", "g1", "g0"]
        assert play.requests[1].endswith("maxResults=100&token=2")
        play.add("g5", 1_765_000_100, "Newest")
        page = await googleplay.pull(http, config(play), cursor, NOW)
    assert [i["id"] for i in page.items] == ["g5"] and not page.more


async def test_an_edited_review_updates_the_stored_item(db: Database, play: FakeGooglePlay) -> None:
    async with aiohttp.ClientSession() as http:
        pulls = Pulls.make(db, http)
        await pulls.add("googleplay", "android", {"service_account": play.service_account()},
                        {"package": PACKAGE, "api_url": play.url})
        play.add("g1", 1_765_000_000, "Crashes on start", stars=1, language="en")
        play.add("g2", 1_765_000_050, "Очень удобно", stars=5, language="ru")  # variation: Russian
        assert await pulls.runner().tick() == 2
        play.add("g1", 1_765_000_900, "Fixed in the update, thanks!", stars=4, language="en")  # variation: an edit
        pulls.clock.advance(901)
        play.served.clear()
        assert await pulls.runner().tick() == 1
        assert play.served == ["g1", "g2"]  # g2 ends the walk: stored already, not sent again
    items = await pulls.items("android")
    assert (items["g1"].text, items["g1"].score) == ("Fixed in the update, thanks!", 4)
    assert items["g2"].language == "ru"
    assert await pulls.tally("android") == {"accepted": 2, "updated": 1, "duplicates": 0, "rejected": 0}
