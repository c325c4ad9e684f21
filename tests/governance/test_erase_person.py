"""Erasing an employee: their named answers and comments, reactions, roles, people rows, conversation references,
direct messages and the files made for them go; engagement, who answered, claims and what they set up stay under
one random token, so counts stay right and the cards say "a former colleague"; a dry run changes nothing, a
second run finds nothing, the audit log records it."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import distinct, func
from sqlmodel import col, select

from adapters.cli import main
from bot.cards import Card, File, Text
from bot.events import Target
from bot.files import save_file
from bot.governance.erasure import Eraser
from bot.governance.former import FORMER_COLLEAGUE
from bot.pulses.publishing import publish_final
from bot.pulses.sealing import Sealer
from storage.columns import utcnow
from storage.engine import Database, sqlite_file
from storage.tables import (
    Claim,
    ConversationRef,
    Delivery,
    DigestSubscription,
    Engagement,
    Feedback,
    FeedbackReaction,
    Participation,
    Person,
    Pulse,
    PulseRun,
    Question,
    Response,
    RoleGrant,
    SandboxMember,
    SandboxMessage,
    Station,
    StoredFile,
)
from storage.tables.audit import AuditEntry
from tests.support.core import CoreHarness, make_harness
from tests.support.server import running_app
from tests.support.waiting import eventually

WHO = "U-quentin"
KEY = f"test:{WHO}"
NAME = "Quentin Zebraquokka"
ANSWER = "Zebraquokka named comment about my manager"
REPLY = "Zebraquokka thread reply"


async def plant(h: CoreHarness) -> int:
    """Quentin's traces everywhere, beside another colleague's; returns the feedback item's id."""
    async with h.db.session() as session:
        session.add(Station(platform="test", channel_id="C1", filters={}, created_by=KEY))
        await session.commit()
    await h.features.stations.ingest.ingest([{"id": "f-1", "source": "delighted", "text": "Slow checkout",
                                             "score": 3}])
    await h.deliver()
    async with h.db.session() as session:
        item = (await session.exec(select(Feedback.id))).one()
        session.add(Person(platform="test", user_id=WHO, display_name=NAME))
        session.add(RoleGrant(platform="test", user_id=WHO, role="manager", granted_by="test:U-admin"))
        session.add(RoleGrant(platform="test", user_id="U-other", role="hr", granted_by=KEY))
        session.add(ConversationRef(platform="test", conversation_id="D-quentin", kind="personal", user_id=WHO,
                                    reference="{}"))
        session.add(DigestSubscription(platform="test", channel_id="C1", weekday=0, at=utcnow().time(),
                                       timezone="UTC", created_by=KEY))
        named = Pulse(platform="test", channel_id="C1", author_id=WHO, title="How was the week?")
        anonymous = Pulse(platform="test", channel_id="C1", author_id="U-other", title="Energy?", anonymous=True)
        session.add_all([named, anonymous])
        await session.flush()
        questions = [Question(pulse_id=p.id or 0, position=0, kind="text", prompt="Say it") for p in (named, anonymous)]
        runs = [PulseRun(pulse_id=p.id or 0, scheduled_for=utcnow()) for p in (named, anonymous)]
        session.add_all([*questions, *runs])
        await session.flush()
        session.add(Response(run_id=runs[0].id or 0, question_id=questions[0].id or 0, respondent_id=KEY,
                             value="text", comment=ANSWER, answered_on=date.today()))
        session.add(Participation(run_id=runs[0].id or 0, question_id=questions[0].id or 0, platform="test",
                                  user_id=WHO))
        sealed = Sealer(h.core.services.keys).seal(questions[1], "text", "anonymous words stay")
        session.add(Participation(run_id=runs[1].id or 0, question_id=questions[1].id or 0, platform="test",
                                  user_id=WHO, sealed=sealed))
        session.add(Claim(feedback_id=item, platform="test", user_id=WHO, note="We fixed the checkout",
                          done_at=utcnow()))
        for user, reaction in ((WHO, "insight"), ("U-other", "insight")):
            session.add(FeedbackReaction(feedback_id=item, platform="test", user_id=user, reaction=reaction))
        for n, (user, kind, value) in enumerate(((WHO, "reaction", "insight"), (WHO, "comment", REPLY),
                                                 (WHO, "claim", None), ("U-other", "reaction", "insight"))):
            session.add(Engagement(event_key=f"test:ev-{n}:{kind}", feedback_id=item, platform="test",
                                   channel_id="C1", user_id=user, kind=kind, value=value))
        url = await save_file(session, "pulse-1-run-1.csv", "text/csv", ANSWER.encode())
        await h.core.services.outbox.send(session, Target.user("test", WHO), Card(
            fallback="CSV", blocks=(Text("Your export"), File(url, "pulse-1-run-1.csv"))), dedupe_key="export:1",
            created_by=KEY)
        await session.commit()
    await h.deliver()
    return item


def eraser(h: CoreHarness) -> Eraser:
    return Eraser(h.db, h.core.services.outbox, h.core.services.keys, h.settings)


async def snapshot(h: CoreHarness) -> dict[str, Any]:
    async with h.db.session() as session:
        def count(table: Any, *where: Any) -> Any:
            return session.exec(select(func.count()).select_from(table).where(*where))
        return {
            "answers": (await count(Response, Response.respondent_id == KEY)).one(),
            "people": (await count(Person, Person.user_id == WHO)).one(),
            "roles": (await count(RoleGrant, RoleGrant.user_id == WHO)).one(),
            "refs": (await count(ConversationRef, ConversationRef.user_id == WHO)).one(),
            "reactions": (await count(FeedbackReaction)).one(),
            "engagement": (await count(Engagement)).one(),
            "engaged people": (await session.exec(select(func.count(distinct(Engagement.user_id))))).one(),
            "participations": (await count(Participation)).one(),
            "answered": (await session.exec(select(func.count(distinct(Participation.user_id))))).one(),
            "files": (await count(StoredFile)).one(),
            "theirs": (await count(Engagement, Engagement.user_id == WHO)).one(),
        }


async def test_an_employee_is_erased_and_kept_only_as_a_former_colleague(db: Database) -> None:
    h = make_harness(db)
    await plant(h)
    before = await snapshot(h)
    assert before["answers"] == before["people"] == before["roles"] == before["refs"] == before["files"] == 1

    dry = await eraser(h).erase_person("test", WHO, actor="cli", dry_run=True)
    assert dry.counts["named_answers"] == 1 and dry.counts["engagement"] == 3 and dry.counts["files"] == 1
    assert await snapshot(h) == before  # a dry run changes nothing
    assert not any(ANSWER in line or NAME in line for line in dry.lines())

    done = await eraser(h).erase_person("test", WHO, actor="test:U-admin")
    assert done.details() == dry.details()
    after = await snapshot(h)
    assert (after["answers"], after["people"], after["roles"], after["refs"], after["files"], after["theirs"]) == (
        0, 0, 0, 0, 0, 0)
    assert after["reactions"] == before["reactions"] - 1  # their reaction is gone; the colleague's stays
    for kept in ("engagement", "engaged people", "participations", "answered"):
        assert after[kept] == before[kept], kept  # the digest's counts of engagement and participation hold

    async with h.db.session() as session:
        claim = (await session.exec(select(Claim))).one()
        tokens = {claim.user_id, *(await session.exec(select(Participation.user_id))),
                  *(await session.exec(select(Engagement.user_id).where(Engagement.user_id != "U-other")))}
        station = (await session.exec(select(Station))).one()
        subscription = (await session.exec(select(DigestSubscription))).one()
        pulse_authors = set(await session.exec(select(Pulse.author_id)))
        grants = set(await session.exec(select(RoleGrant.granted_by)))
        values = set(await session.exec(select(Engagement.value)))
        event_keys = set(await session.exec(select(Engagement.event_key)))
        dms = (await session.exec(select(func.count()).select_from(Delivery).where(
            col(Delivery.pace_key).startswith(f"test:@{WHO}")))).one()
    (token,) = tokens  # one token for the whole erasure, so distinct-people counts stay right
    assert token.startswith("erased:") and WHO not in token
    assert station.created_by == subscription.created_by == f"test:{token}" and token in pulse_authors
    assert f"test:{token}" in grants and KEY not in grants
    assert REPLY not in values and claim.note == "We fixed the checkout"  # their words go, what was done stays
    assert not any(key.startswith("test:ev-0") or key.startswith("test:ev-1") for key in event_keys)
    assert dms == 0

    await h.deliver()
    last = [card for ref, card in h.adapter.updates][-1]
    shown = json.dumps(last.to_json(), ensure_ascii=False)
    assert FORMER_COLLEAGUE in shown and NAME not in shown and WHO not in shown

    async with h.db.session() as session:  # their anonymous answer waiting is published with the others'
        anonymous_run = (await session.exec(select(PulseRun.id).order_by(col(PulseRun.id).desc()))).first()
        await publish_final(session, Sealer(h.core.services.keys), anonymous_run or 0, 1, date.today())
        await session.commit()
        published = list(await session.exec(select(Response.comment).where(Response.run_id == anonymous_run)))
        entry = (await session.exec(select(AuditEntry).where(AuditEntry.action == "erase.person"))).one()
    assert published == ["anonymous words stay"]
    assert (entry.actor, entry.subject, entry.details["named_answers"]) == ("test:U-admin", KEY, 1)
    assert token not in json.dumps(entry.details)

    again = await eraser(h).erase_person("test", WHO, actor="cli")
    assert again.empty


async def test_the_command_line_erases_a_person_and_says_what_it_cannot(db_url: str, db: Database,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    async with db.session() as session:
        session.add(Person(platform="slack", user_id="U0ZEBRA", display_name=NAME))
        session.add(RoleGrant(platform="slack", user_id="U0ZEBRA", role="admin"))
        await session.commit()
    assert await asyncio.to_thread(main, ["erase", "person", "slack:U0ZEBRA", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "people records: 1" in dry and "roles: 1" in dry and "Anonymous pulse answers are not erased" in dry
    assert await asyncio.to_thread(main, ["erase", "person", "slack:U0ZEBRA"]) == 0
    assert "erased:" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["erase", "person", "slack:U0ZEBRA"]) == 0
    assert "nothing to erase" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["erase", "person", "U0ZEBRA"]) == 2
    assert "platform:user_id" in capsys.readouterr().err


async def test_in_the_sandbox_their_messages_and_direct_messages_go_and_the_file_keeps_none_of_their_words(
        db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    async with running_app(db_url) as server:
        db = server.runtime.db
        workspace = server.workspace
        await workspace.post("C-general", "ana", Card(fallback=ANSWER, blocks=(Text(ANSWER),)))
        async with db.session() as session:
            pulse = Pulse(platform="sandbox", channel_id="C-general", author_id="ana", title="Week?")
            session.add(pulse)
            await session.flush()
            question = Question(pulse_id=pulse.id or 0, position=0, kind="text", prompt="Say it")
            run = PulseRun(pulse_id=pulse.id or 0, scheduled_for=utcnow())
            session.add_all([question, run])
            await session.flush()
            session.add(Response(run_id=run.id or 0, question_id=question.id or 0, respondent_id="sandbox:ana",
                                 value="text", comment=ANSWER, answered_on=date.today()))
            await server.runtime.core.services.outbox.send(session, Target.user("sandbox", "ana"), Card(
                fallback="Your CSV", blocks=(Text(f"Your CSV, {NAME}"),)), dedupe_key="dm:ana")
            await session.commit()

        async def delivered() -> bool:
            async with db.session() as session:
                return (await session.exec(select(Delivery.status).where(Delivery.dedupe_key == "dm:ana"))).one() \
                    == "sent"

        await eventually(delivered, 15)
        assert await asyncio.to_thread(main, ["erase", "person", "sandbox:ana"]) == 0
        out = capsys.readouterr().out
        assert "sandbox memberships:" in out and "direct messages to them: 1" in out
        async with db.session() as session:
            members = (await session.exec(select(SandboxMember).where(SandboxMember.user_id == "ana"))).all()
            texts = json.dumps([m.card for m in await session.exec(select(SandboxMessage))], ensure_ascii=False)
            person = (await session.exec(select(Person).where(Person.user_id == "ana"))).first()
        assert not members and person is None and ANSWER not in texts and NAME not in texts
        path = sqlite_file(db_url)
    if path is not None:  # on SQLite the file and its WAL keep none of it (secure_delete, then a checkpoint)
        stored = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert ANSWER.encode() not in stored and NAME.encode() not in stored


async def test_a_recurring_pulse_for_named_people_no_longer_messages_the_erased_one(db: Database) -> None:
    """The erased person's id in a pulse's list of people became the erasure's token: the next run sends its
    question to the others only, never to the token (which no platform could deliver)."""
    h = make_harness(db)
    async with h.db.session() as session:
        pulse = Pulse(platform="test", channel_id="C1", author_id="U-other", title="Weekly",
                      audience={"kind": "people", "users": [WHO, "U-third"]},
                      recurrence={"kind": "weekdays", "at": "09:00"})
        session.add(pulse)
        await session.flush()
        session.add(Question(pulse_id=pulse.id or 0, position=0, kind="yesno", prompt="Good week?"))
        await session.commit()
        pulse_id = pulse.id or 0
    await eraser(h).erase_person("test", WHO, actor="cli")
    run = await h.features.pulses.pulses.open_run(pulse_id, utcnow().replace(microsecond=0))
    assert run is not None
    async with h.db.session() as session:
        targets = [d.target for d in await session.exec(select(Delivery).where(Delivery.subject_id == run.id))]
    assert "U-third" in json.dumps(targets) and "erased:" not in json.dumps(targets)  # (and the author's card)
