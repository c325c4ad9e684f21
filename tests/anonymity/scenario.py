"""One adversarial run: an anonymous pulse answered one vote at a time by people with random ids, each answer
carrying a random token, with every copy taken after each vote (and after close) by a backend's copier.

The pulse has three questions: a scale with a comment box and a question in words, answered by every voter,
and a second question in words answered by fewer than the minimum (whose answers must never show). Votes come
as Teams delivers them (event ids name the conversation), from people whose Teams conversations are stored.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.fernet import Fernet
from sqlalchemy import text

from adapters.teams.references import References
from adapters.teams.translate import conversation_reference, event_id
from bot.cards import Card
from bot.events import FormSubmitted, Person
from storage.engine import Database
from tests.anonymity.cards import CardWatch
from tests.anonymity.linking import Ledger
from tests.anonymity.log_records import check_records
from tests.anonymity.voters import Answer, Secrets, Voter
from tests.pulses.support import command
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

MINIMUM = 3
COMMENT_MINIMUM = 4
VOTERS = 10
SPARSE = 2
"""How many answer the third question: fewer than MINIMUM."""
TITLE = "Adversarial check"
PROMPTS = ("How is your week?", "What should change?", "Anything else?")
QUESTIONS = f"scale+comment: {PROMPTS[0]}\ntext: {PROMPTS[1]}\ntext: {PROMPTS[2]}"


class Copier(Protocol):
    async def take(self, vote: str) -> None:
        """Take every copy this backend offers, now, and show each to the ledger."""


@dataclass(repr=False)
class Run:
    secrets: Secrets
    ledger: Ledger
    run_id: int
    sqlite: bool
    questions: dict[int, str]
    """Question id -> prompt, in the pulse's order."""
    cards: list[tuple[str, str, Card]] = field(default_factory=list)
    """(vote, "channel" or "author", card): every card the channel and the author received, in order."""
    logs: list[logging.LogRecord] = field(default_factory=list)
    published: list[tuple[int, str, str | None]] = field(default_factory=list)
    """(question id, value, comment) of every answer in `response` after close."""
    processed_events: list[tuple[Any, ...]] = field(default_factory=list)
    conversation_refs: list[tuple[Any, ...]] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Run(run {self.run_id}, {len(self.secrets.answers)} answers, {len(self.ledger.links)} links)"


class _Capture(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logs(records: list[logging.LogRecord]) -> Iterator[None]:
    """Every log record at DEBUG and above, as a deployment's log file would keep them at that level. They go to
    this handler alone while the run lasts: thousands of driver lines in a test report help nobody."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    root.handlers[:] = [_Capture(records)]
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def teams_activity(voter: Voter) -> dict[str, Any]:
    """A message from the voter's 1:1 chat, as Teams posts it."""
    return {"type": "message", "id": str(random.randrange(10**12, 10**13)), "channelId": "msteams",
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "conversation": {"id": voter.conversation_id, "conversationType": "personal", "tenantId": "t1"},
            "from": {"id": voter.user_id, "name": f"Person {voter.user_id[-4:]}"},
            "recipient": {"id": "28:earshot", "name": "Earshot"}}


async def launch(h: CoreHarness) -> tuple[int, list[int]]:
    """The author fills the creation form; returns the run id and the question ids, in order."""
    opened = await command(h, "")
    (form,) = opened.forms
    values = {"title": TITLE, "questions": QUESTIONS, "audience": "channel", "anonymous": "yes",
              "results": "live", "share": "yes", "close": ""}
    submitted = FormSubmitted(platform="test", event_id=secrets.token_hex(8), actor=Person("test", "boss"),
                              channel_id=None, form_id=form.form_id, metadata=form.metadata, values=values)
    assert await h.core.handle(submitted, RecordingResponder()) is None
    await h.deliver()
    card = next(s.card for s in h.adapter.sent if s.card.fallback == f"Pulse: {TITLE}")
    actions = [b.action_id for block in card.blocks if block.type == "buttons"
               for b in block.buttons]  # type: ignore[attr-defined]
    run_ids = {int(action.split(":")[2]) for action in actions}
    questions = list(dict.fromkeys(int(action.split(":")[3]) for action in actions))
    assert len(run_ids) == 1 and len(questions) == 3, actions
    return run_ids.pop(), questions


def plan(voters: list[Voter], questions: list[int]) -> list[Answer]:
    """Everyone answers the first two questions, SPARSE people the third; in a random order."""
    scale, words, sparse = questions
    answers = [Answer.random(v, scale, str(random.randint(1, 5))) for v in voters]
    answers += [Answer.random(v, words, None) for v in voters]
    answers += [Answer.random(v, sparse, None) for v in random.sample(voters, SPARSE)]
    random.shuffle(answers)
    return answers


async def vote(h: CoreHarness, run_id: int, answer: Answer) -> None:
    """Answer through the form Teams would post back, with a Teams event id (conversation|activity)."""
    values = {"comment": answer.comment} if answer.value is None else {"answer": answer.value,
                                                                      "comment": answer.comment}
    responder = RecordingResponder()
    submitted = FormSubmitted(platform="test", event_id=event_id(teams_activity(answer.voter)),
                              actor=Person("test", answer.voter.user_id), channel_id=None,
                              form_id=f"pulse-answer:{run_id}:{answer.question_id}", values=values)
    assert await h.core.handle(submitted, responder) is None
    assert "answer is in" in responder.last_text, responder.last_text


class _Looks:
    """After each step: the new cards and log records, then every copy the backend offers."""

    def __init__(self, h: CoreHarness, run: Run, copies: Copier) -> None:
        self.h, self.run, self.copies = h, run, copies
        self.watch = CardWatch(run.ledger, run.questions, MINIMUM, COMMENT_MINIMUM)
        self.sent = self.updated = self.logged = 0

    async def look(self, vote: str) -> None:
        new = [("channel" if s.target.channel_id else "author", s.card) for s in self.h.adapter.sent[self.sent:]
               if s.target.channel_id == "C1" or s.target.user_id == "boss"]
        new += [("channel" if ref.channel_id == "C1" else "author", card)
                for ref, card in self.h.adapter.updates[self.updated:]]
        self.sent, self.updated = len(self.h.adapter.sent), len(self.h.adapter.updates)
        for stream, card in new:
            self.run.cards.append((vote, stream, card))
            self.watch.look(vote, stream, card)
        check_records(self.run.ledger, vote, self.run.logs[self.logged:])
        self.logged = len(self.run.logs)
        await self.copies.take(vote)
        self.run.ledger.step(vote)


async def harness(db: Database, voters: list[Voter]) -> CoreHarness:
    """A core with the minimums lowered, its channel C1 holding the voters and the author ("boss", a manager).
    On PostgreSQL it gets a key of its own (SQLite deployments keep theirs in a file beside the database): the
    key lives outside every copy taken, as it must in production."""
    settings = {"EARSHOT_ANON_MIN": str(MINIMUM), "EARSHOT_COMMENT_MIN": str(COMMENT_MINIMUM)}
    if not db.is_sqlite:
        settings["EARSHOT_SECRET_KEY"] = Fernet.generate_key().decode()
    h = make_harness(db, **settings)
    h.adapter.members["C1"] = [v.user_id for v in voters] + ["boss"]
    await h.grant("boss", "manager")
    return h


async def run_pulse(db: Database, copier: Callable[[Ledger, int], Copier]) -> Run:
    voters = [Voter.random() for _ in range(VOTERS)]
    h = await harness(db, voters)
    references = References(db)
    for voter in voters:  # Teams stores each 1:1 chat, which names its person
        stored = conversation_reference(teams_activity(voter))
        assert stored is not None
        await references.remember(stored)
    run_id, questions = await launch(h)
    answers = plan(voters, questions)
    found = Secrets(answers)
    ledger = Ledger(found, MINIMUM, {questions[2]})
    run = Run(found, ledger, run_id, db.is_sqlite, dict(zip(questions, PROMPTS, strict=True)))
    looks = _Looks(h, run, copier(ledger, run_id))
    with captured_logs(run.logs):
        await looks.look("launch")
        for number, answer in enumerate(answers, start=1):
            label = f"vote {number}/{len(answers)} ({answer.voter.user_id} on question {answer.question_id})"
            await vote(h, run_id, answer)
            await h.deliver()
            await looks.look(label)
        assert "is closed" in (await command(h, "close 1 now")).last_text  # pulse #1, the only one
        await h.deliver()
        await looks.look("close")
    async with db.session() as session:
        connection = await session.connection()
        run.published = [tuple(row) for row in await connection.execute(text(  # type: ignore[misc]
            "SELECT question_id, value, comment FROM response WHERE run_id = :run"), {"run": run_id})]
        run.processed_events = [tuple(row) for row in await connection.execute(text("SELECT * FROM processed_event"))]
        run.conversation_refs = [tuple(row) for row in await connection.execute(text(
            "SELECT conversation_id, user_id FROM conversation_ref"))]
    await h.features.pulses.pulses.settle()
    return run
