"""A mapping's `"unix": true`: seconds, milliseconds, and a bad value rejecting only its own item (never a 500
for the batch)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlmodel import select

from bot.feedback.mappings import load_mapping
from storage.tables import Feedback
from tests.support.server import running_app

TOKEN = "s3cret-token"


def survey(response_id: str, created_at: object) -> dict[str, object]:
    """A Delighted-style survey_response.created event (the built-in nps-survey mapping's shape)."""
    return {"event_type": "survey_response.created", "event_data": {
        "id": response_id, "score": 8, "comment": "Delivery was late", "created_at": created_at}}


@pytest.mark.parametrize("value, stored", [
    (1733580000, "2024-12-07T14:00:00+00:00"),
    (1733580000000, "2024-12-07T14:00:00+00:00"),  # past year 9999 as seconds: milliseconds
    (1733580000.5, "2024-12-07T14:00:00.500000+00:00"),
    ("1733580000", "2024-12-07T14:00:00+00:00"),
    (253402300799, "9999-12-31T23:59:59+00:00"),  # the last second that is still seconds
])
def test_unix_times_in_seconds_or_milliseconds(value: object, stored: str) -> None:
    assert load_mapping("nps-survey").apply(survey("1", value))["created_at"] == stored


@pytest.mark.parametrize("value, reason", [
    (10**20, "out of range"), (-(10**20), "out of range"), (1e300, "out of range"), (10**399, "out of range"),
    ("yesterday", "is not a unix time"), (True, "is not a unix time"), ([1733580000], "is not a unix time"),
])
def test_a_value_that_is_no_unix_time_names_the_field(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^created_at: .*{reason}"):
        load_mapping("nps-survey").apply(survey("1", value))


async def test_a_bad_time_rejects_its_item_alone_over_http(db_url: str) -> None:
    body = json.dumps([survey("good", 1733580000000), survey("ms-bad", 10**20), survey("text", "yesterday"),
                       survey("secs", 1733580000)])
    async with running_app(db_url, demo=False, EARSHOT_INGEST_TOKEN=TOKEN) as server:
        async with aiohttp.ClientSession() as session, session.post(
                f"{server.url}/api/feedback?mapping=nps-survey", data=body,
                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            status, answer = response.status, await response.json()
        async with server.runtime.db.session() as session:
            stored = {f.external_id: f.created_at for f in await session.exec(select(Feedback))}
    assert status == 202
    assert (answer["accepted"], answer["duplicates"], answer["updated"]) == (2, 0, 0)
    assert [(r["index"], r["error"].split(":")[0]) for r in answer["rejected"]] == [(1, "created_at"),
                                                                                     (2, "created_at")]
    assert "out of range as a unix time" in answer["rejected"][0]["error"]
    assert stored == {"good": datetime(2024, 12, 7, 14, tzinfo=UTC), "secs": datetime(2024, 12, 7, 14, tzinfo=UTC)}
