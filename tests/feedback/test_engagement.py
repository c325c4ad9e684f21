"""Engagement on quote cards: reactions, claims, closing the loop, emoji and threads — stored once each."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.events import ActionEvent, FormSubmitted, MessageEvent, MessageRef, Person, ReactionEvent
from storage.engine import Database
from storage.tables import Claim, Delivery, Engagement, FeedbackReaction, Station
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

ITEM = {"id": "42", "source": "nps-survey", "text": "Checkout is broken for me", "score": 3, "score_type": "nps"}


@pytest.fixture
async def posted(db: Database) -> tuple[CoreHarness, MessageRef, str]:
    h = make_harness(db)
    await h.grant("boss", "manager")
    return await quote_card(h, "C1", "C2")


async def quote_card(h: CoreHarness, *channels: str) -> tuple[CoreHarness, MessageRef, str]:
    """ITEM's quote card, through a station in each of `channels`: the first card sent, and the item's id."""
    async with h.db.session() as session:
        session.add_all(Station(platform="test", channel_id=c, filters={}, created_by="test:boss") for c in channels)
        await session.commit()
    await h.features.stations.ingest.ingest([ITEM])
    await h.deliver()
    first = h.adapter.sent[0]
    feedback_id = next(b for b in first.card.blocks if b.type == "buttons").buttons[0].value  # type: ignore
    return h, first.ref, feedback_id


def click(ref: MessageRef, action: str, value: str, user: str = "ana", event_id: str | None = None) -> ActionEvent:
    return ActionEvent(platform="test", event_id=event_id or uuid.uuid4().hex, actor=Person("test", user, user.title()),
                       channel_id=ref.channel_id, action_id=action, value=value, message=ref)


def button_labels(h: CoreHarness) -> list[str]:
    _, card = h.adapter.updates[-1]
    return [b.label for b in next(b for b in card.blocks if b.type == "buttons").buttons]  # type: ignore


async def engagement(h: CoreHarness) -> list[tuple[str, str, str | None]]:
    async with h.db.session() as session:
        return [(e.kind, e.user_id, e.value) for e in await session.exec(select(Engagement).order_by(Engagement.id))]


async def test_reactions_count_on_every_copy_of_the_card(posted) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    responder = RecordingResponder()
    await h.core.handle(click(ref, "fb:react:insight", fid, "ana"), responder)
    await h.core.handle(click(ref, "fb:react:insight", fid, "ben"), responder)
    await h.core.handle(click(ref, "fb:react:urgent", fid, "ben"), responder)
    await h.deliver()
    assert "💡 Insight · 2" in button_labels(h) and "🔥 Urgent · 1" in button_labels(h)
    assert {r.channel_id for r, _ in h.adapter.updates} == {"C1", "C2"}
    assert len(h.adapter.updates) == 2  # coalesced: one edit per copy, not one per click
    assert await engagement(h) == [("reaction", "ana", "insight"), ("reaction", "ben", "insight"),
                                   ("reaction", "ben", "urgent")]


async def test_a_resent_click_and_a_double_click_count_once(posted) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    responder = RecordingResponder()
    await h.core.handle(click(ref, "fb:react:moved", fid, event_id="same"), responder)
    await h.core.handle(click(ref, "fb:react:moved", fid, event_id="same"), responder)  # platform retry
    await h.core.handle(click(ref, "fb:react:moved", fid), responder)  # double click, new event id
    async with h.db.session() as session:
        (state,) = list(await session.exec(select(FeedbackReaction)))
    assert state.active
    assert await engagement(h) == [("reaction", "ana", "moved")]


async def test_clicking_again_later_takes_the_reaction_back(posted) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    await h.core.handle(click(ref, "fb:react:fixable", fid), RecordingResponder())
    async with h.db.session() as session:
        state = (await session.exec(select(FeedbackReaction))).one()
        state.updated_at -= timedelta(seconds=10)
        session.add(state)
        await session.commit()
    await h.core.handle(click(ref, "fb:react:fixable", fid), RecordingResponder())
    await h.deliver()
    assert "🛠 We can fix this" in button_labels(h)
    assert [k for k, _, _ in await engagement(h)] == ["reaction", "unreaction"]


async def test_claims_are_exclusive_and_the_owner_closes_the_loop(posted) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    ana, ben = RecordingResponder(), RecordingResponder()
    await h.core.handle(click(ref, "fb:claim", fid, "ana"), ana)
    await h.core.handle(click(ref, "fb:claim", fid, "ben"), ben)
    assert "You're following up" in ana.last_text and "is already following up" in ben.last_text
    await h.deliver()
    _, claimed = h.adapter.updates[-1]
    assert "🙋 ana follows up" in str(claimed.blocks) and "🙋 I'll follow up" not in button_labels(h)
    await h.core.handle(click(ref, "fb:done", fid, "ben"), ben)
    assert "can close it" in ben.last_text and ben.forms == []
    await h.core.handle(click(ref, "fb:done", fid, "ana"), ana)
    (form,) = ana.forms
    submit = FormSubmitted(platform="test", event_id="f1", actor=Person("test", "ana"), channel_id=None,
                           form_id=form.form_id, values={"note": "   "}, metadata=form.metadata)
    assert await h.core.handle(submit, ana) == {"note": "Say in a few words what was done."}
    done = FormSubmitted(platform="test", event_id="f2", actor=Person("test", "ana"), channel_id=None,
                         form_id=form.form_id, values={"note": "Fixed the card form; refunded"},
                         metadata=form.metadata)
    assert await h.core.handle(done, ana) is None
    await h.deliver()
    _, card = h.adapter.updates[-1]
    assert "Loop closed by ana: Fixed the card form; refunded" in str(card.blocks)
    async with h.db.session() as session:
        claim = (await session.exec(select(Claim))).one()
    assert claim.user_id == "ana" and claim.note == "Fixed the card form; refunded" and claim.done_at
    assert [k for k, _, _ in await engagement(h)] == ["claim", "done"]
    async with h.db.session() as session:  # a modal submission has no channel: the one it was opened in is stored
        assert [e.channel_id for e in await session.exec(select(Engagement).order_by(Engagement.id))] == [
            ref.channel_id, ref.channel_id]
    await h.core.handle(click(ref, "fb:claim", fid, "ana"), ana)  # claiming again changes nothing
    assert [k for k, _, _ in await engagement(h)] == ["claim", "done"]


async def test_emoji_and_thread_replies_are_stored(posted) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    await h.core.handle(ReactionEvent(platform="test", event_id="r1", actor=Person("test", "ana"),
                                      channel_id=ref.channel_id, emoji="eyes", added=True, message=ref),
                        RecordingResponder())
    await h.core.handle(ReactionEvent(platform="test", event_id="r2", actor=Person("test", "ana"),
                                      channel_id=ref.channel_id, emoji="eyes", added=False, message=ref),
                        RecordingResponder())
    await h.core.handle(MessageEvent(platform="test", event_id="m1", actor=Person("test", "ben"),
                                     channel_id=ref.channel_id, text="สวัสดีครับ I can look",
                                     message=MessageRef("test", ref.channel_id, "reply-1"),
                                     thread_id=ref.message_id), RecordingResponder())
    await h.core.handle(click(ref, "fb:discuss", fid), RecordingResponder())
    await h.deliver()
    assert await engagement(h) == [("reaction", "ana", "eyes"), ("unreaction", "ana", "eyes"),
                                   ("comment", "ben", "สวัสดีครับ I can look"), ("discuss", "ana", None)]
    thread_post = [s for s in h.adapter.sent if s.target.thread_id == ref.message_id]
    assert len(thread_post) == 1
    assert "1 reply in thread" in str(h.adapter.updates[-1][1].blocks)
    async with h.db.session() as session:
        assert len(list(await session.exec(select(Delivery).where(Delivery.kind == "send")))) == 3


def emoji(ref: MessageRef, name: str, user: str, added: bool = True) -> ReactionEvent:
    return ReactionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                         channel_id=ref.channel_id, emoji=name, added=added, message=ref)


async def test_an_emoji_that_means_a_button_counts_on_it_once_per_person(posted) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    await h.core.handle(emoji(ref, "bulb", "ana"), RecordingResponder())
    await h.core.handle(emoji(ref, "🔥", "ben"), RecordingResponder())
    await h.deliver()
    assert "💡 Insight · 1" in button_labels(h) and "🔥 Urgent · 1" in button_labels(h)
    assert {r.channel_id for r, _ in h.adapter.updates} == {"C1", "C2"}
    await h.core.handle(click(ref, "fb:react:insight", fid, "ana"), RecordingResponder())  # the button as well
    await h.core.handle(emoji(ref, "bulb", "ana", added=False), RecordingResponder())
    await h.deliver()
    assert "💡 Insight · 1" in button_labels(h)  # Ana once, while her button click stands
    edits = len(h.adapter.updates)
    await h.core.handle(emoji(ref, "eyes", "cy"), RecordingResponder())
    await h.deliver()
    assert len(h.adapter.updates) == edits  # an emoji the card does not show edits nothing
    assert await engagement(h) == [
        ("reaction", "ana", "bulb"), ("reaction", "ben", "🔥"), ("reaction", "ana", "insight"),
        ("unreaction", "ana", "bulb"), ("reaction", "cy", "eyes")]
