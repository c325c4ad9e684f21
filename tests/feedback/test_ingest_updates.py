"""The same (source, id) again: an edit updates the stored item and every posted card (coalesced), the fields a
later event leaves out keep their stored value, an exact resend is a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from bot.cards import Card
from bot.digests.queries import feedback_items
from storage.engine import Database
from storage.tables import Delivery, Feedback, Station
from tests.support.core import CoreHarness, make_harness

ITEM = {"id": "r-1", "source": "delighted", "text": "Checkout is slow", "score": 4, "score_type": "nps",
        "customer": {"name": "Ana", "plan": "pro"}, "tags": ["checkout"], "language": "en"}


async def harness(db: Database, *channels: str) -> CoreHarness:
    h = make_harness(db)
    async with h.db.session() as session:
        session.add_all(Station(platform="test", channel_id=c, filters={}, created_by="test:boss") for c in channels)
        await session.commit()
    return h


async def ingest(h: CoreHarness, *items: dict[str, Any]) -> dict[str, Any]:
    return (await h.features.stations.ingest.ingest(list(items))).to_json()


async def rows(h: CoreHarness) -> list[Feedback]:
    async with h.db.session() as session:
        return list(await session.exec(select(Feedback)))


def quoted(card: Card) -> str | None:
    return next((b.text for b in card.blocks if b.type == "quote"), None)  # type: ignore[attr-defined]


async def test_an_edit_updates_the_item_and_every_posted_card_once(db: Database) -> None:
    h = await harness(db, "C1", "C2")
    await ingest(h, ITEM)
    await h.deliver()
    assert len(h.adapter.sent) == 2
    first = await ingest(h, {**ITEM, "text": "Checkout is slow, and it charged me twice"})
    second = await ingest(h, {**ITEM, "text": "Checkout charged me twice", "score": 1})
    assert first == second == {"accepted": 0, "updated": 1, "duplicates": 0, "rejected": []}
    (row,) = await rows(h)
    assert (row.text, row.score, row.customer, row.tags) == ("Checkout charged me twice", 1, ITEM["customer"],
                                                             ["checkout"])
    await h.deliver()
    assert len(h.adapter.sent) == 2  # edited in place, never posted again
    assert sorted(ref.channel_id for ref, _ in h.adapter.updates) == ["C1", "C2"]  # one edit per copy, coalesced
    assert {quoted(card) for _, card in h.adapter.updates} == {"Checkout charged me twice"}
    assert all("NPS 1" in card.fallback for _, card in h.adapter.updates)


async def test_an_exact_resend_is_a_duplicate_and_touches_no_card(db: Database) -> None:
    h = await harness(db, "C1")
    await ingest(h, ITEM)
    await h.deliver()
    assert await ingest(h, ITEM, {**ITEM, "customer": {"plan": "pro"}}, {**ITEM, "text": ""}) == {
        "accepted": 0, "updated": 0, "duplicates": 3, "rejected": []}
    await h.deliver()
    assert h.adapter.updates == []


async def test_a_score_and_its_comment_sent_apart_merge(db: Database) -> None:
    """Survicate sends each answer of a response as its own event with the response's id."""
    h = await harness(db, "C1")
    score = {"id": "resp-9", "source": "survicate", "score": 2, "score_type": "csat",
             "customer": {"email": "c@example.com"}}
    comment = {"id": "resp-9", "source": "survicate", "text": "Поддержка не отвечает третий день",
               "customer": {"segment": "smb"}}
    assert await ingest(h, score) == {"accepted": 1, "updated": 0, "duplicates": 0, "rejected": []}
    await h.deliver()
    assert quoted(h.adapter.sent[0].card) is None  # a score without words: no empty quote
    assert await ingest(h, comment) == {"accepted": 0, "updated": 1, "duplicates": 0, "rejected": []}
    (row,) = await rows(h)
    assert (row.text, row.score, row.score_type, row.language) == ("Поддержка не отвечает третий день", 2, "csat",
                                                                   "ru")
    assert row.customer == {"email": "c@example.com", "segment": "smb"} and row.segment == "smb"
    assert await ingest(h, score) == {"accepted": 0, "updated": 0, "duplicates": 1, "rejected": []}
    (row,) = await rows(h)
    assert row.text == "Поддержка не отвечает третий день"  # the score event ("" or no text) keeps the words
    await h.deliver()
    ((_, card),) = h.adapter.updates
    assert quoted(card) == "Поддержка не отвечает третий день" and "CSAT 2/5" in card.fallback


async def test_the_comment_first_then_the_score(db: Database) -> None:
    h = await harness(db)
    await ingest(h, {"id": "7", "source": "s", "text": "ok then"})
    assert (await ingest(h, {"id": "7", "source": "s", "text": "", "score": 9}))["updated"] == 1
    (row,) = await rows(h)
    assert (row.text, row.score, row.score_type) == ("ok then", 9, "nps")


async def test_items_naming_one_response_in_one_request_apply_in_order(db: Database) -> None:
    h = await harness(db, "C1")
    words = {"id": ITEM["id"], "source": ITEM["source"], "text": "Fast now"}  # the score left out: kept
    answer = await ingest(h, ITEM, {**ITEM, "score": 9}, {**ITEM, "score": 9}, words)
    assert answer == {"accepted": 1, "updated": 2, "duplicates": 1, "rejected": []}
    (row,) = await rows(h)
    assert (row.text, row.score) == ("Fast now", 9)
    await h.deliver()
    (sent,) = h.adapter.sent  # routed once, with the last words
    assert quoted(sent.card) == "Fast now" and h.adapter.updates == []
    async with h.db.session() as session:
        assert len(list(await session.exec(select(Delivery).where(Delivery.kind == "update")))) == 0


async def test_a_card_not_posted_yet_goes_out_with_the_latest_words(db: Database) -> None:
    h = await harness(db, "C1")
    await ingest(h, ITEM)
    await ingest(h, {**ITEM, "text": "Edited before posting"})
    await h.deliver()
    (sent,) = h.adapter.sent
    assert quoted(sent.card) == "Edited before posting" and h.adapter.updates == []


async def test_the_weekly_figures_count_an_edited_item_once_with_its_new_score(db: Database) -> None:
    h = await harness(db)
    await ingest(h, ITEM, {**ITEM, "id": "r-2", "score": 10})
    await ingest(h, {**ITEM, "score": 9}, {**ITEM, "score": 9})
    week = (datetime.now(UTC) - timedelta(days=7), datetime.now(UTC) + timedelta(days=1))
    async with db.engine.connect() as conn:
        items = await feedback_items(conn, week)
    assert sorted(i.score for i in items) == [9, 10]  # the edit replaced its score: 2 items, not 3
