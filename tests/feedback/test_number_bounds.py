"""Absurd numbers in `/station add` and in feedback cards' buttons and forms get a clear refusal, never an
exception inside the core: on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import func, select

from bot.events import ActionEvent, FormSubmitted, MessageRef, Person
from bot.feedback.engagement import NOT_THIS_CARD
from storage.engine import Database
from storage.tables import Station
from tests.feedback.test_stations import station
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

HUGE = "9" * 20
ENORMOUS = "9" * 5_000


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db)
    await h.grant("boss", "manager")
    return h


def errors_logged(h: CoreHarness) -> float:
    return sum(sample.value for metric in h.core.services.metrics.events.collect() for sample in metric.samples
               if sample.labels.get("outcome") == "error" and sample.name.endswith("_total"))


async def stations_stored(db: Database) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(Station))).one()


@pytest.mark.parametrize("words, message", [
    ("cap:999999999999999", "cap: takes a number of cards per hour from 1 to 1000"),
    (f"cap:{ENORMOUS}", "cap: takes a number of cards per hour from 1 to 1000"),
    ("cap:²", "cap: takes a number of cards per hour from 1 to 1000"),
    ("cap:1001", "cap: takes a number of cards per hour from 1 to 1000"),
    ("score:nan", "score: goes from 0 to 10"),
    ("score:1e999", "score: goes from 0 to 10"),
    ("score:0-99999999999", "score: goes from 0 to 10"),
    (f"score:{ENORMOUS}", "score: goes from 0 to 10"),
    ("quiet:99999999999-08:00", "quiet: takes hours like 22:00-08:00"),
])
async def test_absurd_station_numbers_are_refused(harness: CoreHarness, words: str,
                                                   message: str) -> None:
    assert message in (await station(harness, "C1", f"add {words}")).last_text
    assert await stations_stored(harness.db) == 0
    assert errors_logged(harness) == 0


async def test_the_largest_cap_is_taken(harness: CoreHarness) -> None:
    await station(harness, "C1", "add cap:1000 score:0-10")
    async with harness.db.session() as session:
        (row,) = await session.exec(select(Station))
    assert (row.cap_per_hour, row.filters["score"]) == (1000, [0.0, 10.0])


@pytest.mark.parametrize("value", [HUGE, "2147483648", ENORMOUS, "²"])
async def test_feedback_buttons_and_forms_naming_absurd_ids_are_refused(harness: CoreHarness,
                                                                       value: str) -> None:
    for action in ("fb:react:heart", "fb:claim", "fb:done", "fb:discuss"):
        responder = RecordingResponder()
        await harness.core.handle(ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "u1"),
                                              channel_id="C1", action_id=action, value=value,
                                              message=MessageRef("test", "C1", "m1")), responder)
        assert responder.last_text == NOT_THIS_CARD
    errors = await harness.core.handle(FormSubmitted(
        platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "u1"), channel_id=None,
        form_id=f"fb-done:{value}", values={"note": "refunded"}), RecordingResponder())
    assert errors_logged(harness) == 0, errors
