"""`earshot erase customer`: a customer's items, every row hanging off them and every copy of their words go; the
cards posted of them are edited through the outbox (here in the sandbox, served by the real app); a dry run
changes nothing; a second run finds nothing; the audit log records counts, never the e-mail; on SQLite the
database file and its WAL hold neither the words nor the address afterwards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from adapters.cli import main
from bot.cards import Card, Context, Quote
from bot.governance.erasure import REMOVED, SUBJECT_DIGEST
from storage.columns import utcnow
from storage.engine import sqlite_file
from storage.secrets import keyed_digest
from storage.tables import (
    Claim,
    Delivery,
    Engagement,
    Feedback,
    FeedbackReaction,
    SandboxMessage,
    Station,
    StationItem,
)
from storage.tables.audit import AuditEntry
from tests.support.server import Running, running_app
from tests.support.waiting import eventually

MARKER = "Zebraquokka7731 checkout charged my card twice"
EMAIL = "Erin.Zebraquokka@Example.COM"
ITEMS = [
    {"id": "z-1", "source": "delighted", "text": MARKER, "score": 2, "score_type": "nps",
     "customer": {"name": "Erin Zebraquokka", "email": EMAIL, "plan": "pro"}},
    {"id": "z-2", "source": "zendesk", "text": f"{MARKER}, and support never answered", "score": 1,
     "score_type": "csat", "customer": {"email": EMAIL.lower(), "segment": "smb"}},
    {"id": "keep-1", "source": "delighted", "text": "Another customer loves the new reports", "score": 10,
     "score_type": "nps", "customer": {"email": "someone.else@example.com"}},
]


@pytest.fixture
async def server(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    monkeypatch.setenv("DATABASE_URL", db_url)  # the CLI reads it as an operator's shell would give it
    async with running_app(db_url) as running:
        yield running


async def cli(*args: str) -> int:
    """The real entry point, in a thread: it runs its own event loop."""
    return await asyncio.to_thread(main, list(args))


async def plant(server: Running) -> list[int]:
    """The items ingested and posted to the sandbox's stations, with engagement on the first one, a card still
    waiting to go out and a roll-up that quoted it."""
    result = await server.runtime.features.stations.ingest.ingest(ITEMS)
    assert result.accepted == 3
    db = server.runtime.db
    async with db.session() as session:
        ids = [i for i in (await session.exec(select(Feedback.id).where(
            col(Feedback.external_id).in_(["z-1", "z-2"])).order_by(col(Feedback.id)))).all()]

    async def posted() -> bool:
        async with db.session() as session:
            sent = (await session.exec(select(func.count()).select_from(Delivery).where(
                Delivery.subject_kind == "feedback", col(Delivery.subject_id).in_(ids),
                Delivery.status == "sent"))).one()
            return sent >= 2

    await eventually(posted, 15)
    first = ids[0]
    async with db.session() as session:
        session.add(Claim(feedback_id=first, platform="sandbox", user_id="ana", note="Refunded the second charge",
                          done_at=utcnow()))
        session.add(FeedbackReaction(feedback_id=first, platform="sandbox", user_id="ben", reaction="urgent"))
        session.add(Engagement(event_key="sandbox:ev-1:comment", feedback_id=first, platform="sandbox",
                               channel_id="C-cx", user_id="ben", kind="comment", value=f"Re: {MARKER}"))
        station = (await session.exec(select(Station.id))).first()
        session.add(StationItem(station_id=station, feedback_id=first))
        session.add(Delivery(dedupe_key="late-card", platform="sandbox", kind="send",
                             target={"platform": "sandbox", "channel_id": "C-general", "thread_id": None,
                                     "user_id": None}, pace_key="sandbox:C-general",
                             card={"fallback": MARKER, "blocks": []}, subject_kind="feedback", subject_id=first,
                             next_attempt_at=utcnow() + timedelta(days=1)))
        rollup = Card(fallback="2 more pieces of customer feedback",
                      blocks=(Quote(MARKER), Context(("delighted",)), Quote("Another customer loves the new reports")))
        session.add(Delivery(dedupe_key="rollup:1:99", platform="sandbox", kind="send", status="sent",
                             target={"platform": "sandbox", "channel_id": "C-cx", "thread_id": None, "user_id": None},
                             pace_key="sandbox:C-cx", card=rollup.to_json(), message_channel="C-cx",
                             message_id="999999", sent_at=utcnow()))
        await session.commit()
    return ids


async def counts(server: Running, ids: list[int]) -> dict[str, int]:
    async with server.runtime.db.session() as session:
        found = {}
        for table in (Feedback, Engagement, Claim, FeedbackReaction, StationItem):
            column = Feedback.id if table is Feedback else table.feedback_id  # type: ignore[attr-defined]
            found[table.__tablename__] = (await session.exec(select(func.count()).select_from(table).where(
                col(column).in_(ids)))).one()
        return found


async def stored_text(server: Running) -> str:
    """Every stored card and message, as text."""
    async with server.runtime.db.session() as session:
        cards = [d.card for d in await session.exec(select(Delivery))]
        cards += [m.card for m in await session.exec(select(SandboxMessage))]
    return json.dumps(cards, ensure_ascii=False)


async def test_a_customer_is_erased_with_every_copy_of_their_words(server: Running,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ids = await plant(server)
    before = await counts(server, ids)
    assert before == {"feedback": 2, "engagement": 1, "claim": 1, "feedback_reaction": 1, "station_item": 1}
    assert MARKER in await stored_text(server)
    async with server.runtime.db.session() as session:
        posted = (await session.exec(select(func.count()).select_from(Delivery).where(
            Delivery.subject_kind == "feedback", col(Delivery.subject_id).in_(ids), Delivery.status == "sent"))).one()

    assert await cli("erase", "customer", "--email", "erin.zebraquokka@example.com", "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "dry run" in dry and "feedback items: 2" in dry and f"#{ids[0]}, #{ids[1]}" in dry
    assert f"posted cards (edited): {posted}\n" in dry and "cards not sent yet (dropped): 1" in dry
    assert MARKER not in dry and "zebraquokka@" not in dry.lower()
    assert await counts(server, ids) == before and MARKER in await stored_text(server)  # nothing changed

    assert await cli("erase", "customer", "--email", "ERIN.zebraquokka@example.com") == 0
    done = capsys.readouterr().out
    assert "erased:" in done and "feedback items: 2" in done
    assert await counts(server, ids) == dict.fromkeys(before, 0)
    db = server.runtime.db
    async with db.session() as session:
        kept = (await session.exec(select(Feedback.external_id))).all()
        assert "keep-1" in kept and not {"z-1", "z-2"} & set(kept)
        assert (await session.exec(select(Delivery).where(Delivery.dedupe_key == "late-card"))).first() is None
        edits = list(await session.exec(select(Delivery).where(Delivery.kind == "update")))
    assert edits and all(REMOVED in json.dumps(e.card, ensure_ascii=False)  # (or sent already: the outbox
                         or (e.status == "sent" and not e.card.get("blocks")) for e in edits)  # empties those)
    text = await stored_text(server)
    assert MARKER not in text and "Another customer loves the new reports" in text  # the roll-up keeps the rest

    async def edited_in_the_sandbox() -> bool:
        async with db.session() as session:
            updates = list(await session.exec(select(Delivery.status).where(Delivery.kind == "update")))
            # (the planted roll-up's edit fails: its message was never posted in this sandbox)
            messages = [m.card for m in await session.exec(select(SandboxMessage))]
        removed = sum(REMOVED in json.dumps(card, ensure_ascii=False) for card in messages)
        return updates.count("sent") >= posted and removed >= posted

    await eventually(edited_in_the_sandbox, 15)  # the worker edits the posted cards through the outbox

    async with db.session() as session:
        (entry,) = (await session.exec(select(AuditEntry).where(AuditEntry.action == "erase.customer"))).all()
    assert entry.actor == "cli" and entry.subject == "customer" and entry.details["feedback"] == 2
    assert "zebraquokka" not in json.dumps(entry.model_dump(mode="json")).lower()

    assert await cli("erase", "customer", "--email", EMAIL) == 0
    assert "nothing to erase" in capsys.readouterr().out


async def test_one_item_by_source_and_id(server: Running, capsys: pytest.CaptureFixture[str]) -> None:
    ids = await plant(server)
    assert await cli("erase", "customer", "--source", "zendesk", "--id", "z-2") == 0
    assert "feedback items: 1" in capsys.readouterr().out
    async with server.runtime.db.session() as session:
        left = (await session.exec(select(Feedback.id).where(col(Feedback.id).in_(ids)))).all()
        (entry,) = (await session.exec(select(AuditEntry).where(AuditEntry.action == "erase.customer"))).all()
    assert left == [ids[0]] and entry.subject == "customer"  # the source's id could be looked up there: digested
    keys = server.runtime.core.services.keys
    assert entry.details["item_digest"] == keyed_digest(keys, SUBJECT_DIGEST, json.dumps(["zendesk", "z-2"]))
    assert "z-2" not in json.dumps(entry.model_dump(mode="json"))


@pytest.mark.parametrize("args", [["--email", "not-an-address"], ["--source", "zendesk"], [],
                                  ["--email", "a@b.c", "--source", "x", "--id", "1"], ["--email", "a@" + "b" * 300],
                                  ["--source", "x" * 101, "--id", "1"]])
async def test_a_wrong_request_is_refused_in_one_line(server: Running, capsys: pytest.CaptureFixture[str],
                                                      args: list[str]) -> None:
    assert await cli("erase", "customer", *args) == 2
    err = capsys.readouterr().err
    assert "earshot erase:" in err and "Traceback" not in err


async def test_on_sqlite_neither_the_words_nor_the_address_stay_in_the_file_or_its_wal(
        server: Running, capsys: pytest.CaptureFixture[str]) -> None:
    """Needs `PRAGMA secure_delete` on every connection (storage/engine.py) for the freed bytes in the file."""
    path = sqlite_file(server.runtime.db.url)
    if path is None:
        pytest.skip("PostgreSQL: dead rows go with VACUUM (docs/governance.md)")
    await plant(server)
    assert all(needle in _bytes(path) for needle in _needles()[:2])  # the words and the address are there now
    assert await cli("erase", "customer", "--email", EMAIL) == 0

    async def settled() -> bool:
        async with server.runtime.db.session() as session:
            return not (await session.exec(select(Delivery.id).where(Delivery.status == "pending"))).first()

    await eventually(settled, 15)
    assert not any(needle in _bytes(path) for needle in _needles())


def _needles() -> list[bytes]:
    words = [MARKER, EMAIL, EMAIL.lower(), "Zebraquokka7731", "zebraquokka@"]
    return [w.encode() for w in words] + [w.encode("utf-16-le") for w in words[-2:]]


def _bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
