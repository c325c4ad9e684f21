"""A delivery older than the stored item, by the tool's own `updated_at` (a replayed signed body, a late retry), is
a duplicate and never rolls back a newer edit; a score sent without its scale keeps the stored scale."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlmodel import select

from adapters.sources.delighted import KIND
from adapters.sources.registry import add_source, secret_box
from bot.feedback.items import validate
from storage.engine import Database
from storage.tables import Feedback
from tests.feedback.test_ingest_updates import harness, ingest, quoted, rows
from tests.support.server import running_app

DELIGHTED = Path(__file__).parent.parent / "fixtures" / "sources" / "delighted"
ITEM = {"id": "r-1", "source": "tool", "text": "Checkout is slow", "score": 4, "score_type": "nps"}
T1, T2, T3 = "2026-12-01T10:00:00Z", "2026-12-01T11:00:00+01:00", "2026-12-01T12:00:00Z"  # T2 is 10:00 UTC too
ANSWER: dict[str, Any] = {"accepted": 0, "updated": 0, "duplicates": 0, "rejected": []}


def test_updated_at_is_an_aware_utc_time() -> None:
    assert validate({**ITEM, "updated_at": "2026-12-01T11:00:00+01:00"}).updated_at == datetime(2026, 12, 1, 10,
                                                                                                 tzinfo=UTC)
    assert validate({**ITEM, "updated_at": "2026-12-01T10:00:00"}).updated_at == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert validate(ITEM).updated_at is None


async def test_an_older_delivery_after_a_newer_one_is_a_duplicate(db: Database) -> None:
    h = await harness(db, "C1")
    await ingest(h, {**ITEM, "updated_at": T1})
    await h.deliver()
    assert await ingest(h, {**ITEM, "text": "Fixed, thanks", "score": 9, "updated_at": T3}) == {**ANSWER, "updated": 1}
    assert await ingest(h, {**ITEM, "updated_at": T1}) == {**ANSWER, "duplicates": 1}
    (row,) = await rows(h)
    assert (row.text, row.score, row.updated_at) == ("Fixed, thanks", 9, datetime(2026, 12, 1, 12, tzinfo=UTC))
    await h.deliver()
    assert [quoted(card) for _, card in h.adapter.updates] == ["Fixed, thanks"]  # the replay edited no card


async def test_the_same_time_or_no_time_applies_as_before(db: Database) -> None:
    h = await harness(db)
    await ingest(h, {**ITEM, "updated_at": T1})
    assert await ingest(h, {**ITEM, "text": "Same second", "updated_at": T2}) == {**ANSWER, "updated": 1}
    assert await ingest(h, {**ITEM, "text": "No time given"}) == {**ANSWER, "updated": 1}
    (row,) = await rows(h)
    assert (row.text, row.updated_at) == ("No time given", datetime(2026, 12, 1, 10, tzinfo=UTC))
    untimed = {**ITEM, "id": "r-2"}
    await ingest(h, untimed)
    assert await ingest(h, {**untimed, "text": "Later words", "updated_at": T1}) == {**ANSWER, "updated": 1}
    assert await ingest(h, {**untimed, "text": "Older words", "updated_at": "2026-11-01T00:00:00Z"}) == {
        **ANSWER, "duplicates": 1}
    assert {r.external_id: r.text for r in await rows(h)}["r-2"] == "Later words"


async def test_a_newer_resend_of_the_same_words_still_moves_the_time_forward(db: Database) -> None:
    """v1 (T1), then v3 (T3, the same words as v1: a duplicate), then v2 (T2) retried late: v2 is older than v3."""
    h = await harness(db)
    await ingest(h, {**ITEM, "updated_at": T1})
    assert await ingest(h, {**ITEM, "updated_at": T3}) == {**ANSWER, "duplicates": 1}
    assert await ingest(h, {**ITEM, "text": "v2", "updated_at": "2026-12-01T11:00:00Z"}) == {
        **ANSWER, "duplicates": 1}
    (row,) = await rows(h)
    assert (row.text, row.updated_at) == (ITEM["text"], datetime(2026, 12, 1, 12, tzinfo=UTC))


async def test_a_score_without_its_scale_keeps_the_stored_scale(db: Database) -> None:
    h = await harness(db)
    await ingest(h, {**ITEM, "score": 2, "score_type": "csat"})
    assert await ingest(h, {"id": ITEM["id"], "source": ITEM["source"], "score": 5}) == {**ANSWER, "updated": 1}
    (row,) = await rows(h)
    assert (row.score, row.score_type) == (5, "csat")
    answer = await ingest(h, {"id": ITEM["id"], "source": ITEM["source"], "score": 9})
    assert answer == {**ANSWER, "rejected": [{"index": 0, "error": "score 9 is outside 1–5 for csat"}]}
    (row,) = await rows(h)
    assert (row.score, row.score_type) == (5, "csat")


async def test_a_scale_without_a_score_leaves_the_stored_score_as_it_is(db: Database) -> None:
    """A CSV import whose mapping sets `score_type` for every row, on a row with no score: the stored NPS 9 is not
    re-read as a CSAT 9 (outside 1–5), and the weekly figures keep it where it was."""
    h = await harness(db)
    await ingest(h, {**ITEM, "score": 9, "score_type": "nps"})
    answer = await ingest(h, {"id": ITEM["id"], "source": ITEM["source"], "text": "Checkout is slow",
                              "score_type": "csat"})
    assert answer == {**ANSWER, "duplicates": 1}
    (row,) = await rows(h)
    assert (row.score, row.score_type) == (9, "nps")


async def test_a_replayed_signed_delighted_delivery_does_not_revert_the_edit(db_url: str) -> None:
    """Red-team finding 3: the published example (updated_at 1516129128), its edit (1516130000), the example
    again, each signed as Delighted signs (sha256= hex HMAC-SHA256 of the body, keyed with the API key)."""
    key = "delighted-api-key-0123"
    older, newer = (DELIGHTED / "webhook_example.json").read_bytes(), (
        DELIGHTED / "variation_edited_comment.json").read_bytes()
    async with running_app(db_url, demo=False) as running:
        await add_source(running.runtime.db, secret_box(running.runtime.core.services.keys), KIND, "nps",
                         {"secret": key}, {})
        answers = []
        async with aiohttp.ClientSession() as http:
            for raw in (older, newer, older):
                signature = "sha256=" + hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()
                async with http.post(f"{running.url}/api/sources/nps", data=raw,
                                     headers={"X-Delighted-Webhook-Signature": signature}) as answer:
                    assert answer.status == 202, await answer.text()
                    answers.append(await answer.json())
        async with running.runtime.db.session() as session:
            (stored,) = list(await session.exec(select(Feedback)))
    assert answers == [{**ANSWER, "accepted": 1}, {**ANSWER, "updated": 1}, {**ANSWER, "duplicates": 1}]
    assert (stored.text, stored.score) == ("Your service is fast, but the invoice page is slow.", 7)
    assert stored.updated_at == datetime.fromtimestamp(1516130000, UTC)
