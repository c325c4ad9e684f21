"""A sealed answer waiting in its participation row gives its length away unless every sealed answer of a
question has the same length: no comment, a 3-character one, 900 characters of mixed scripts and 1,000 emoji
(4 bytes each in UTF-8, 12 as JSON escapes) must all seal to one size."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from bot.events import ActionEvent, MessageRef, Person
from storage.engine import Database
from tests.anonymity.scenario import harness, launch, vote
from tests.anonymity.voters import FILLER, Answer, Voter
from tests.support.recording import RecordingResponder

COMMENTS = ("ñé✓", (FILLER * 40)[:900], "🙏" * 1000)


async def test_sealed_answers_of_a_question_all_have_one_length(db: Database) -> None:
    voters = [Voter.random() for _ in range(4)]
    h = await harness(db, voters)
    run_id, (scale, words, _) = await launch(h)
    pressed = RecordingResponder()  # a button alone: an answer without a comment
    await h.core.handle(ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", voters[0].user_id),
                                    channel_id="C1", action_id=f"pulse:vote:{run_id}:{scale}", value="4",
                                    message=MessageRef("test", "C1", "m1")), pressed)
    assert "answer is in" in pressed.last_text
    for voter, comment in zip(voters[1:], COMMENTS, strict=True):
        await vote(h, run_id, Answer(voter, scale, "", "2", comment))
    for voter, comment in zip(voters, COMMENTS, strict=False):
        await vote(h, run_id, Answer(voter, words, "", None, comment))
    await h.deliver()  # fewer than twice the minimum per question: all of them still wait, sealed
    async with db.session() as session:
        connection = await session.connection()
        result = await connection.execute(text("SELECT * FROM participation WHERE run_id = :run"), {"run": run_id})
        rows = [dict(row._mapping) for row in result]
    assert rows and "sealed" in rows[0], "participation has no sealed column: answers are not sealed while they wait"
    for question, given in ((scale, 4), (words, 3)):
        sealed = [row["sealed"] for row in rows if row["question_id"] == question]
        assert len(sealed) == given and all(sealed), f"question {question}: answers waiting unsealed: {sealed}"
        sizes = sorted({len(value) for value in sealed})
        assert len(sizes) == 1, f"question {question}: sealed answers differ in length by their comment: {sizes}"
        assert all(comment not in value for value in sealed for comment in COMMENTS)
    await h.features.pulses.pulses.settle()
