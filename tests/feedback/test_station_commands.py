"""`/station` through the core: values that would match nothing (or everything by accident) are refused by name,
a channel gets no second identical station, and pause, resume and remove tell the channel, as add does."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import col, select

from bot.events import CommandEvent, Person
from storage.engine import Database
from storage.tables import Station
from tests.feedback.test_stations import ITEMS, notices, station
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db)
    await h.grant("boss", "manager")
    return h


async def stored(h: CoreHarness) -> list[Station]:
    async with h.db.session() as session:
        return list(await session.exec(select(Station).order_by(col(Station.id))))


@pytest.mark.parametrize("words, message", [
    ("score:11-20", "score:11-20 is on no scale: score: goes from 0 to 10 (NPS 0–10, CSAT 1–5"),
    ("nps:promoter score:0-6", "score:0-6 can't match nps:promoter (9–10)"),
    ("csat:high score:6-10 all", "score:6-10 can't match csat:high (4–5)"),
    ("lang:xx", "lang:xx isn't a language code I know. lang: takes ISO 639-1 codes"),
    ("lang:th,klingon", "lang:klingon isn't a language code I know"),
    ("tz:Europe/Berlin", "at least one filter, like nps:detractor or area:checkout, or “all”"),
    ("", "at least one filter"),
    ("cap:20 quiet:22:00-08:00", "at least one filter"),
    ("all area:checkout", "“all” means every piece of feedback, so it doesn't go with filters (area checkout)"),
    ("nps:detractor tz:Europe/Berlin", "tz:Europe/Berlin sets the time zone of quiet hours, and none were given"),
    ("all quiet:22-08 tz:Europe/Berln", "I don't know the time zone “Europe/Berln”. Did you mean Europe/Berlin?"),
])
async def test_values_that_match_nothing_or_everything_by_accident_are_refused_by_name(
        harness: CoreHarness, words: str, message: str) -> None:
    answer = await station(harness, "C1", f"add {words}".strip())
    assert message in answer.last_text
    assert await stored(harness) == []
    assert await notices(harness, "C1") == ""


@pytest.mark.parametrize("words, filters, quiet", [
    ("all", {}, None),
    ("ALL cap:5", {}, None),
    ("all quiet:22:00-08:00 tz:europe/berlin", {}, {"start": "22:00", "end": "08:00", "tz": "Europe/Berlin"}),
    ("nps:detractor quiet:22-7 tz:ASIA/BANGKOK", {"nps": ["detractor"]},
     {"start": "22:00", "end": "07:00", "tz": "Asia/Bangkok"}),
    ("lang:TH,pt-BR,fil", {"languages": ["TH", "pt-BR", "fil"]}, None),
    ("nps:detractor score:5-10", {"nps": ["detractor"], "score": [5.0, 10.0]}, None),
])
async def test_good_values_are_taken_and_time_zones_in_any_case_become_their_iana_names(
        harness: CoreHarness, words: str, filters: dict, quiet: dict | None) -> None:
    await station(harness, "C1", f"add {words}")
    (row,) = await stored(harness)
    assert (row.filters, row.quiet_hours) == (filters, quiet)
    assert "This channel now hears from customers" in await notices(harness, "C1")


async def test_an_all_station_takes_every_item(harness: CoreHarness) -> None:
    await station(harness, "C1", "add all")
    await harness.features.stations.ingest.ingest(ITEMS)
    await harness.deliver()
    assert sum(1 for sent in harness.adapter.sent if any(b.type == "quote" for b in sent.card.blocks)) == 4


async def test_a_second_identical_station_is_refused_naming_the_first(harness: CoreHarness) -> None:
    await station(harness, "C1", "add nps:detractor area:checkout lang:th")
    for same in ("add area:Checkout nps:detractor lang:th-TH", "add nps:detractor area:checkout lang:th cap:5"):
        answer = await station(harness, "C1", same)
        assert "station #1 already sends this channel NPS detractors · area checkout · language th" in answer.last_text
        assert "/station remove 1" in answer.last_text
    await station(harness, "C1", "pause 1")
    paused = await station(harness, "C1", "add nps:detractor area:checkout lang:th")
    assert "(paused: /station resume 1 turns it back on)" in paused.last_text
    assert [s.id for s in await stored(harness)] == [1]
    await station(harness, "C1", "add nps:detractor area:checkout")  # different filters: a second station
    await station(harness, "C2", "add nps:detractor area:checkout lang:th")  # another channel
    await station(harness, "C1", "remove 1")
    await station(harness, "C1", "add nps:detractor area:checkout lang:th")  # the removed one is no duplicate
    assert [s.id for s in await stored(harness)] == [1, 2, 3, 4]
    assert (await notices(harness, "C1")).count("This channel now hears from customers") == 3


async def test_resume_on_a_live_station_says_it_is_already_live_and_pause_twice_says_paused(
        harness: CoreHarness) -> None:
    await station(harness, "C1", "add nps:detractor")
    before = await notices(harness, "C1")
    live = await station(harness, "C1", "resume")
    assert "station #1 (NPS detractors) is already live: nothing to resume" in live.last_text
    assert "live again" not in live.last_text
    await station(harness, "C1", "pause")
    again = await station(harness, "C1", "pause 1")
    assert "station #1 (NPS detractors) is already paused; /station resume 1 turns it back on" in again.last_text
    assert (await notices(harness, "C1")).count("is paused") == 1 and (await notices(harness, "C1")).startswith(before)


async def test_pause_resume_and_remove_tell_the_channel_as_add_does(harness: CoreHarness) -> None:
    await station(harness, "C1", "add nps:detractor")
    for words, said in (("pause", "⏸ Station #1 (NPS detractors) is paused: feedback that arrives meanwhile is "
                                  "not sent here."),
                        ("resume 1", "▶️ Station #1 (NPS detractors) is live again."),
                        ("remove", "📴 This channel no longer hears from customers through station #1 "
                                   "(NPS detractors).")):
        answer = await station(harness, "C1", words)
        assert answer.private_cards == []  # said once, in the channel, for everyone
        await harness.deliver()
        posted = harness.adapter.sent[-1]
        assert (posted.ref.channel_id, posted.card.fallback) == ("C1", said)
        assert "by Boss" in str(posted.card.blocks[-1])
    assert [(s.paused, s.removed_at is not None) for s in await stored(harness)] == [(False, True)]


async def preview(h: CoreHarness, words: str, channel: str | None = "C1") -> str:
    responder = RecordingResponder()
    await h.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "someone"),
                                     channel_id=channel, command="station", text=f"preview {words}".strip()),
                        responder)
    return "\n".join(str(card.blocks) for card in responder.private_cards)


async def test_preview_with_no_filter_previews_this_channels_stations(harness: CoreHarness) -> None:
    await harness.features.stations.ingest.ingest(ITEMS)
    assert "This channel has no station to preview" in await preview(harness, "")
    await station(harness, "C1", "add area:checkout")
    await station(harness, "C1", "add lang:ru")
    await station(harness, "C2", "add all")
    shown = await preview(harness, "")
    assert "this channel's stations" in shown and "would have sent 3 cards" in shown
    assert "#1 area checkout, #2 language ru" in shown
    await station(harness, "C1", "pause 2")
    shown = await preview(harness, "")
    assert "would have sent 2 cards" in shown and "paused, not counted: #2" in shown
    assert "would have sent 4 cards" in await preview(harness, "all")
    assert "would have sent 1 card " in await preview(harness, "lang:fa")
    assert "run it in that channel, or give filters" in await preview(harness, "", channel=None)


async def test_help_says_a_station_needs_a_filter_or_all(harness: CoreHarness) -> None:
    shown = str((await station(harness, "C1", "help")).private_cards[-1].blocks)
    assert "/station add filters | all" in shown
    assert "at least one content filter, or the word all for every piece of feedback" in shown
    assert "ISO 639-1 codes" in shown and "IANA time zone, any case" in shown
