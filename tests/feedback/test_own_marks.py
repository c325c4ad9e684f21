"""A platform that shows each person their own state on a shared card (the sandbox) says which state a click asked
for, so every click counts and a repeat changes nothing; the core tells it what is each person's own (Marks); and
its card edits are not spaced out for rate limits it doesn't have (issue 16, point 2)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.cards import text_card
from bot.core import Marks
from bot.events import ActionEvent, MessageRef, Person
from bot.outbox import Outbox
from storage.engine import Database
from storage.tables import Delivery
from tests.feedback.test_engagement import click, engagement, quote_card
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder


@pytest.fixture
async def posted(db: Database) -> tuple[CoreHarness, MessageRef, str]:
    """A quote card posted to C1."""
    return await quote_card(make_harness(db), "C1")


TOGGLES = frozenset({"fb:react:insight", "fb:react:moved", "fb:react:fixable", "fb:react:urgent"})


def press(ref: MessageRef, action: str, value: str, pressed: bool, user: str = "ana") -> ActionEvent:
    return ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user, user.title()),
                       channel_id=ref.channel_id, action_id=action, value=value, message=ref, pressed=pressed)


async def test_a_click_that_says_its_state_counts_at_once_and_a_repeat_changes_nothing(posted) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    responder = RecordingResponder()
    await h.core.handle(press(ref, "fb:react:insight", fid, True), responder)
    await h.core.handle(press(ref, "fb:react:insight", fid, False), responder)  # within a second: taken back
    await h.core.handle(press(ref, "fb:react:insight", fid, False), responder)  # a repeat: nothing more
    await h.core.handle(press(ref, "fb:react:urgent", fid, False), responder)  # off already: nothing stored
    assert await engagement(h) == [("reaction", "ana", "insight"), ("unreaction", "ana", "insight")]
    assert (await h.core.marks("test", [ref]))[ref.message_id] == Marks(TOGGLES, {})
    assert not responder.private_cards


async def test_marks_tell_each_person_their_own_reactions_and_claim_only_on_quote_cards(posted) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    responder = RecordingResponder()
    await h.core.handle(click(ref, "fb:react:insight", fid, "ana"), responder)
    await h.core.handle(click(ref, "fb:react:moved", fid, "ben"), responder)
    await h.core.handle(click(ref, "fb:claim", fid, "ben"), responder)
    other = MessageRef("test", ref.channel_id, "not-a-card")
    elsewhere = MessageRef("test", "C-elsewhere", ref.message_id)  # the same message id in another channel
    marks = await h.core.marks("test", [ref, other, elsewhere])
    assert marks == {ref.message_id: Marks(TOGGLES, {"ana": frozenset({"fb:react:insight"}),
                                                      "ben": frozenset({"fb:react:moved", "fb:done"})})}
    assert await h.core.marks("other-platform", [ref]) == {}


async def test_marks_find_the_cards_by_their_messages_not_among_every_card_sent(posted, db: Database) -> None:  # type: ignore[no-untyped-def]
    """Marks are read on every sandbox post, edit and state load: SQLite must search ix_delivery_message by
    platform, channel and message id, not walk every feedback card by ix_delivery_subject."""
    if not db.is_sqlite:
        pytest.skip("the plan checked is SQLite's, which has no statistics to choose by")
    h, ref, _fid = posted
    issued: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if "FROM delivery" in statement:
            issued.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await h.core.marks("test", [ref, MessageRef("test", "C-elsewhere", "m-2")])
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert len(issued) == 1
    async with db.engine.connect() as conn:
        plan = " ".join(row[-1] for row in await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + issued[0][0],
                                                                      tuple(issued[0][1])))
    assert "ix_delivery_message (platform=? AND message_channel=? AND message_id=?)" in plan, plan


async def test_edits_follow_each_other_at_once_where_the_platform_has_no_rate_limit(posted, db: Database) -> None:  # type: ignore[no-untyped-def]
    h, ref, fid = posted
    await h.core.handle(click(ref, "fb:react:insight", fid), RecordingResponder())
    await h.deliver()  # the card's first edit is sent: the next one is spaced from it
    async with db.session() as session:
        sent = (await session.exec(select(Delivery).where(Delivery.kind == "send"))).one()
        last_edit = (await session.exec(select(Delivery).where(Delivery.parent_id == sent.id))).one()
        assert last_edit.sent_at is not None
        unlimited = Outbox(update_interval=3.0)
        unlimited.edit_intervals["test"] = 0.0  # as the runtime sets it from the adapter's Pacing.edit_interval
        for outbox, spacing in ((unlimited, 0.0), (Outbox(update_interval=3.0), 3.0)):
            await outbox.update(session, sent, text_card("new tally"))
            edit = (await session.exec(select(Delivery).where(Delivery.parent_id == sent.id,
                                                              Delivery.status == "pending"))).one()
            due = max(outbox._clock(), last_edit.sent_at + timedelta(seconds=spacing))
            assert abs((edit.next_attempt_at - due).total_seconds()) < 0.5
            await session.delete(edit)
            await session.flush()
