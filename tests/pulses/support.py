"""Helpers for pulse tests through the core: launching by command, answering by button, reading the cards."""

from __future__ import annotations

import uuid

from sqlmodel import col, func, select

from bot.cards import Card
from bot.events import ActionEvent, CommandEvent, FormSubmitted, MessageRef, Person
from storage.engine import Database
from storage.tables import Participation, Response
from tests.support.core import CoreHarness
from tests.support.recording import RecordingResponder

MEMBERS = [f"u{n}" for n in range(8)]


async def command(h: CoreHarness, text: str, user: str = "boss", channel: str = "C1") -> RecordingResponder:
    responder = RecordingResponder()
    await h.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                                     channel_id=channel, command="pulse", text=text), responder)
    return responder


def buttons(card: Card) -> list[tuple[str, str, str]]:
    return [(b.action_id, b.label, b.value) for block in card.blocks if block.type == "buttons"
            for b in block.buttons]  # type: ignore[union-attr]


async def vote(h: CoreHarness, user: str, action: str, value: str | tuple[str, ...]) -> RecordingResponder:
    responder = RecordingResponder()
    await h.core.handle(ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                                    channel_id="C1", action_id=action, value=value,
                                    message=MessageRef("test", "C1", "m1")), responder)
    return responder


async def submit(h: CoreHarness, user: str, form_id: str, values: dict[str, str], metadata: str = "") -> object:
    """Send a form back; returns the form errors (None when accepted)."""
    return await h.core.handle(FormSubmitted(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                                             channel_id=None, form_id=form_id, values=values, metadata=metadata),
                               RecordingResponder())


def channel_card(h: CoreHarness) -> Card:
    """The latest edit of the question card in the channel (not the author's live results DM)."""
    return [card for ref, card in h.adapter.updates if ref.channel_id == "C1"][-1]


async def launched_card(h: CoreHarness) -> Card:
    await h.deliver()
    return next(s.card for s in h.adapter.sent if s.card.fallback.startswith("Pulse:"))


def sent(h: CoreHarness, prefix: str) -> list[Card]:
    """Cards sent (not edits) whose fallback starts with `prefix`."""
    return [s.card for s in h.adapter.sent if s.card.fallback.startswith(prefix)]


async def exported_csv(h: CoreHarness, user: str = "boss") -> str:
    """`/pulse export` as `user`: the reply says it went by DM; the DM carries the CSV as a file."""
    from bot.events import Target
    from bot.files import load_file

    reply = await command(h, "export", user=user)
    assert "sent you the CSV" in reply.last_text
    await h.deliver()
    card = next(s.card for s in reversed(h.adapter.sent) if s.target == Target.user("test", user)
                and s.card.fallback.startswith("CSV of pulse"))
    (attached,) = [b for b in card.blocks if b.type == "file"]
    stored = await load_file(h.db, attached.url)  # type: ignore[union-attr]
    assert stored is not None and stored.mime == "text/csv" and stored.name == attached.name  # type: ignore
    assert stored.data.startswith("\ufeff".encode())  # spreadsheet programs read its script right
    return stored.data.decode("utf-8-sig")


async def answer_counts(db: Database) -> tuple[int, int]:
    """(answers stored: named ones, and anonymous ones published or waiting sealed; people who answered)."""
    async with db.session() as session:
        sealed = select(func.count()).select_from(Participation).where(col(Participation.sealed).is_not(None))
        return ((await session.exec(select(func.count()).select_from(Response))).one()
                + (await session.exec(sealed)).one(),
                (await session.exec(select(func.count()).select_from(Participation))).one())
