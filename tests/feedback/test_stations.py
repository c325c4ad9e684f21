"""Stations through the core: commands and permissions, the routing matrix, caps, quiet hours, roll-ups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.events import CommandEvent, Person
from storage.engine import Database
from storage.tables import Station, StationItem
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

ITEMS = [
    {"id": "1", "source": "nps-survey", "text": "ระบบชำระเงินช้ามาก", "score": 2, "score_type": "nps",
     "product_area": "checkout", "language": "th"},
    {"id": "2", "source": "nps-survey", "text": "Love it", "score": 10, "score_type": "nps",
     "product_area": "reports", "language": "en", "tags": ["praise"]},
    {"id": "3", "source": "helpdesk", "text": "Обслуживание ужасное, refund please", "score": 1,
     "score_type": "csat", "language": "ru", "customer": {"segment": "enterprise"}},
    {"id": "4", "source": "appstore", "text": "پرداخت خطا می‌دهد", "score": 3, "score_type": "rating",
     "product_area": "checkout", "language": "fa-IR"},
]


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db)
    await h.grant("boss", "manager")
    return h


async def station(h: CoreHarness, channel: str, text: str, user: str = "boss") -> RecordingResponder:
    responder = RecordingResponder()
    event = CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user, "Boss"),
                         channel_id=channel, command="station", text=text)
    await h.core.handle(event, responder)
    return responder


async def notices(h: CoreHarness, channel: str) -> str:
    """Everything posted in `channel` so far, as text (announcements and notices as well as cards)."""
    await h.deliver()
    return "\n".join(sent.card.fallback for sent in h.adapter.sent if sent.ref.channel_id == channel)


async def cards_by_channel(h: CoreHarness) -> dict[str, list[str]]:
    await h.deliver()
    seen: dict[str, list[str]] = {}
    for sent in h.adapter.sent:
        if any(b.type == "quote" for b in sent.card.blocks):
            quote = next(b for b in sent.card.blocks if b.type == "quote")
            seen.setdefault(sent.ref.channel_id, []).append(quote.text)  # type: ignore[union-attr]
    return seen


@pytest.mark.parametrize("filters, expected", [
    ("all", ["1", "2", "3", "4"]),
    ("nps:detractor", ["1"]),
    ("nps:detractor csat:low", ["1", "3"]),
    ("nps:promoter,passive", ["2"]),
    ("score:0-3", ["1", "3", "4"]),
    ("area:checkout", ["1", "4"]),
    ("area:Checkout lang:fa", ["4"]),
    ("source:helpdesk segment:enterprise", ["3"]),
    ("segment:enterprise", ["3"]),
    ("tag:praise", ["2"]),
    ("ช้า", ["1"]),            # Thai keyword inside a sentence with no spaces
    ('keyword:"REFUND"', ["3"]),  # case-folded
    ("keyword:خطا", ["4"]),
])
async def test_routing_matrix(harness: CoreHarness, filters: str, expected: list[str]) -> None:
    await station(harness, "C1", f"add {filters}".strip())
    result = await harness.features.stations.ingest.ingest(ITEMS)
    assert result.accepted == 4
    texts = {item["text"]: item["id"] for item in ITEMS}
    got = sorted(texts[t] for t in (await cards_by_channel(harness)).get("C1", []))
    assert got == expected


async def test_one_item_reaches_several_stations_once_per_channel(harness: CoreHarness) -> None:
    await station(harness, "C1", "add all")
    await station(harness, "C1", "add area:checkout")  # same channel again: still one card there
    await station(harness, "C2", "add nps:detractor")
    await harness.features.stations.ingest.ingest(ITEMS[:1])
    assert {k: len(v) for k, v in (await cards_by_channel(harness)).items()} == {"C1": 1, "C2": 1}


async def test_only_managers_manage_stations(harness: CoreHarness) -> None:
    refused = await station(harness, "C1", "add all", user="someone")
    assert "Only managers and admins" in refused.last_text
    async with harness.db.session() as session:
        assert (await session.exec(select(Station))).first() is None
    listed = await station(harness, "C1", "list", user="someone")
    assert "no station" in listed.last_text
    await station(harness, "C1", "add all")
    for words in ("pause 1", "resume 1", "remove 1"):
        assert "Only managers and admins" in (await station(harness, "C1", words, user="someone")).last_text
    async with harness.db.session() as session:
        kept = (await session.exec(select(Station))).one()
    assert kept.removed_at is None and not kept.paused


async def test_csat_high_and_low_split_satisfaction_ratings(harness: CoreHarness) -> None:
    await station(harness, "C-happy", "add csat:high")
    await station(harness, "C-unhappy", "add csat:low")
    rated = [{"id": f"r{score}", "source": "helpdesk", "text": f"rated {score}", "score": score, "score_type": "csat"}
             for score in (1, 2, 3, 4, 5)]
    await harness.features.stations.ingest.ingest(rated)
    seen = await cards_by_channel(harness)
    assert sorted(seen["C-happy"]) == ["rated 4", "rated 5"] and sorted(seen["C-unhappy"]) == ["rated 1", "rated 2"]


async def test_pause_resume_remove_and_list(harness: CoreHarness) -> None:
    await station(harness, "C1", "add nps:detractor")
    assert "#1 · NPS detractors" in (await station(harness, "C1", "list")).last_text
    await station(harness, "C1", "pause")
    assert "is paused" in await notices(harness, "C1")
    await harness.features.stations.ingest.ingest(ITEMS[:1])
    assert await cards_by_channel(harness) == {}
    await station(harness, "C1", "resume 1")
    await harness.features.stations.ingest.ingest([{**ITEMS[0], "id": "1b"}])
    assert len((await cards_by_channel(harness))["C1"]) == 1
    assert "no station #9" in (await station(harness, "C1", "remove 9")).last_text
    await station(harness, "C1", "remove 1")
    assert "no longer hears from customers" in await notices(harness, "C1")
    assert "no station" in (await station(harness, "C1", "list")).last_text


async def test_typos_and_bad_values_get_help(harness: CoreHarness) -> None:
    assert "Did you mean nps:detractor?" in (await station(harness, "C1", "add nsp:detractor")).last_text
    assert "nps: takes detractor, passive, promoter" in (await station(harness, "C1", "add nps:angry")).last_text
    assert "Did you mean /station list?" in (await station(harness, "C1", "lsit")).last_text


async def test_preview_is_a_dry_run(harness: CoreHarness) -> None:
    await harness.features.stations.ingest.ingest(ITEMS)
    responder = await station(harness, "C1", "preview area:checkout", user="someone")
    assert "would have sent 2 cards" in responder.last_text or "would have sent 2 cards" in str(
        responder.private_cards[-1].blocks)
    await harness.deliver()
    assert harness.adapter.sent == []


async def test_cap_holds_the_rest_for_one_rollup(harness: CoreHarness) -> None:
    await station(harness, "C1", "add all cap:2")
    await harness.features.stations.ingest.ingest(ITEMS)
    assert len((await cards_by_channel(harness))["C1"]) == 2
    async with harness.db.session() as session:
        held = [i for i in await session.exec(select(StationItem)) if i.held]
    assert len(held) == 2
    assert await harness.features.stations.release_rollups() == 0  # the hour's cap is still used up
    async with harness.db.session() as session:  # an hour later
        for item in await session.exec(select(StationItem)):
            item.routed_at -= timedelta(hours=2)
            session.add(item)
        await session.commit()
    assert await harness.features.stations.release_rollups() == 1
    await harness.deliver()
    rollup = harness.adapter.sent[-1].card
    assert rollup.fallback == "2 more pieces of customer feedback"
    assert await harness.features.stations.release_rollups() == 0  # released once


async def age(h: CoreHarness, hours: float, held: bool | None = None) -> None:
    """Move routed items back in time (only the held ones, or only those sent, when `held` says so)."""
    async with h.db.session() as session:
        for item in await session.exec(select(StationItem)):
            if held is None or item.held == held:
                item.routed_at -= timedelta(hours=hours)
                session.add(item)
        await session.commit()


@pytest.mark.parametrize("utc_time, quiet", [
    ("2026-11-25T15:30", True),   # 22:30 in Bangkok, inside 22:00–07:00 (across midnight)
    ("2026-11-25T20:00", True),   # 03:00 the next day in Bangkok
    ("2026-11-26T00:00", False),  # 07:00 in Bangkok: the window has ended
    ("2026-11-25T14:59", False),  # 21:59 in Bangkok
])
def test_quiet_hours_across_midnight_in_the_station_zone(utc_time: str, quiet: bool) -> None:
    from bot.feedback.quiet import in_quiet_hours

    now = datetime.fromisoformat(utc_time).replace(tzinfo=UTC)
    assert in_quiet_hours({"start": "22:00", "end": "07:00", "tz": "Asia/Bangkok"}, now) is quiet


async def test_held_items_go_out_within_the_hour_even_when_traffic_keeps_the_cap_full(harness: CoreHarness) -> None:
    await station(harness, "C1", "add all cap:2")
    await harness.features.stations.ingest.ingest(ITEMS)
    await age(harness, 0.5, held=True)  # the cap is full with fresh cards; the held ones wait
    assert await harness.features.stations.release_rollups() == 0
    await age(harness, 0.6, held=True)  # the oldest held item has now waited over an hour: the cap is still full
    assert await harness.features.stations.release_rollups() == 1
    await harness.deliver()
    assert harness.adapter.sent[-1].card.fallback == "2 more pieces of customer feedback"


async def test_a_paused_station_keeps_what_it_held_until_it_is_resumed(harness: CoreHarness) -> None:
    await station(harness, "C1", "add all cap:2")
    await harness.features.stations.ingest.ingest(ITEMS)
    await station(harness, "C1", "pause 1")
    await age(harness, 2)
    assert await harness.features.stations.release_rollups() == 0
    async with harness.db.session() as session:
        assert [i.released_at for i in await session.exec(select(StationItem)) if i.held] == [None, None]
    await station(harness, "C1", "resume 1")
    assert await harness.features.stations.release_rollups() == 1


async def test_quiet_hours_hold_items_until_morning(harness: CoreHarness) -> None:
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).strftime("%H:00"), (now + timedelta(hours=2)).strftime("%H:00")
    await station(harness, "C1", f"add all quiet:{start}-{end} tz:UTC")
    await harness.features.stations.ingest.ingest(ITEMS[:2])
    assert await cards_by_channel(harness) == {}
    assert await harness.features.stations.release_rollups() == 0  # still quiet
    async with harness.db.session() as session:
        stored = (await session.exec(select(Station))).one()
        stored.quiet_hours = {"start": end, "end": start, "tz": "UTC"} if start != end else None
        session.add(stored)
        await session.commit()
    assert await harness.features.stations.release_rollups() == 1
    await harness.deliver()
    assert "while this channel was quiet" in str(harness.adapter.sent[-1].card.blocks[0])
