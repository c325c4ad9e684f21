"""Publishing anonymous answers (bot/pulses/publishing.py): sealed at the vote, published in shuffled batches of
at least the minimum (3 here) from distinct people, everything at close, nothing lost across a restart, and no
start with answers sealed under a key that is gone."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlmodel import col, select

from adapters.cli import main
from bot.pulses.ballots import Ballot, BallotBox
from bot.pulses.publishing import publish_final
from bot.pulses.sealing import Sealer, room
from storage.engine import Database
from storage.secrets import SecretKeyError
from storage.tables import Participation, PulseRun, Question, Response
from tests.pulses.support import MEMBERS, buttons, command, launched_card, submit, vote
from tests.support.core import CoreHarness, make_harness


async def stored(h: CoreHarness) -> tuple[list[Response], list[Participation]]:
    async with h.db.session() as session:
        return list(await session.exec(select(Response))), list(await session.exec(select(Participation)))


async def cast_sealed(db: Database, sealer: Sealer, users: list[str]) -> None:
    """Answers "3" to pulse 1's (first) question from `users`, stored as a vote stores them and no more: no card
    refresh, so nothing publishes them."""
    async with db.session() as session:
        question = (await session.exec(select(Question).where(Question.pulse_id == 1, Question.position == 0))).one()
    ballots = BallotBox(db, date.today)
    for user in users:
        assert await ballots.cast(Ballot(1, question.id or 0, "test", user, "3", None,
                                         sealer.seal(question, "3", None))) is None


async def comment_pulse(h: CoreHarness) -> tuple[str, str]:
    """An anonymous question that takes comments: (vote action, comment form id)."""
    await command(h, '"Energy?" scale comment anonymous')
    actions = [action for action, _, _ in buttons(await launched_card(h))]
    form_id = (await vote(h, "u0", actions[-1], "comment")).forms[0].form_id
    return actions[0], form_id


async def test_a_vote_stores_only_its_sealed_answer_and_batches_keep_the_minimum_back(harness: CoreHarness) -> None:
    _, form_id = await comment_pulse(harness)
    comments = {user: " ".join([f"words of {n}"] * n) for n, user in enumerate(MEMBERS)}  # 0 to 76 characters
    for count, user in enumerate(MEMBERS, start=1):
        assert await submit(harness, user, form_id, {"answer": "4", "comment": comments[user] or "ok"}) is None
        await harness.deliver()
        responses, people = await stored(harness)
        waiting = [p for p in people if p.sealed]
        assert len(people) == count
        assert len(set(map(len, (p.sealed for p in waiting)))) <= 1  # every sealed answer as long as any other
        assert not any(c in (p.sealed or "") for p in people for c in comments.values() if c)
        # six waiting make the first batch of three; then three more waiting make the next: never below three
        assert len(responses) == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 3, 7: 3, 8: 3}[count]
        assert len(waiting) == count - len(responses)
    responses, people = await stored(harness)
    published = {r.comment for r in responses}
    assert all(r.respondent_id is None and r.value == "4" and len(r.id) == 32 for r in responses)
    assert published < {c or "ok" for c in comments.values()}
    # the batch's people were rewritten without their sealed answers; the rest still wait, sealed
    assert sorted(p.user_id for p in people if p.sealed is None) != [] and len(people) == len(MEMBERS)
    assert await harness.features.pulses.pulses.close(1)
    responses, people = await stored(harness)
    assert sorted(r.comment for r in responses) == sorted(c or "ok" for c in comments.values())  # nothing lost
    assert all(p.sealed is None for p in people) and len(people) == len(MEMBERS)
    assert len({r.id for r in responses}) == len(MEMBERS)


async def test_answers_are_dated_the_day_they_are_published(harness: CoreHarness) -> None:
    await command(harness, '"Energy?" scale anonymous')
    action = buttons(await launched_card(harness))[0][0]
    for user in MEMBERS[:3]:
        await vote(harness, user, action, "5")
    harness.core.services.clock = lambda: datetime(2031, 2, 3, 12, tzinfo=UTC)
    await harness.features.pulses.pulses.close(1)
    responses, _ = await stored(harness)
    assert [r.answered_on for r in responses] == [date(2031, 2, 3)] * 3


async def test_a_question_closing_below_the_minimum_publishes_nothing_ever(harness: CoreHarness) -> None:
    await command(harness, "template wellbeing anonymous")
    card = await launched_card(harness)
    feeling, support = (a for a, _, v in buttons(card) if v in ("4", "yes"))
    for user in MEMBERS[:4]:
        await vote(harness, user, feeling, "4")
    await vote(harness, "u1", support, "yes")
    await vote(harness, "u2", support, "no")
    await harness.deliver()
    assert await harness.features.pulses.pulses.close(1)
    responses, people = await stored(harness)
    async with harness.db.session() as session:
        second = (await session.exec(select(Question).where(Question.position == 1))).one()
    assert [r.value for r in responses] == ["4"] * 4  # the two answers to the second question were dropped unread
    assert not [r for r in responses if r.question_id == second.id]
    assert len(people) == 6 and all(p.sealed is None for p in people)  # who answered stays: one answer each


async def test_nothing_is_lost_across_a_restart(harness: CoreHarness, db: Database) -> None:
    await command(harness, '"Energy?" scale anonymous')
    await launched_card(harness)
    await cast_sealed(db, Sealer(harness.core.services.keys), MEMBERS[:7])  # the process stops before a refresh
    assert (await stored(harness))[0] == []
    restarted = make_harness(db, EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="5")
    restarted.adapter.members["C1"] = list(MEMBERS)
    await restarted.features.pulses.pulses.check_sealed()  # the key beside the database (or the setting) opens them
    await restarted.features.pulses.pulses.due()  # the periodic check finds the batch no refresh published
    await restarted.deliver()
    assert len((await stored(restarted))[0]) == 4  # seven waiting: four published, three kept back
    assert await restarted.features.pulses.pulses.close(1)
    assert [r.value for r in (await stored(restarted))[0]] == ["3"] * 7


async def test_a_start_with_answers_sealed_under_a_lost_key_is_refused_and_a_rotation_opens_them(
        harness: CoreHarness, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    await command(harness, '"Energy?" scale anonymous')
    action = buttons(await launched_card(harness))[0][0]
    await vote(harness, "u1", action, "3")
    old = harness.core.services.keys[0]
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("EARSHOT_SECRET_KEY", new)
    replaced = make_harness(db)
    with pytest.raises(SecretKeyError, match="wait to be published, sealed with a key that EARSHOT_SECRET_KEY"):
        await replaced.features.pulses.pulses.check_sealed()
    monkeypatch.setenv("EARSHOT_SECRET_KEY", f"{new},{old}")
    rotated = make_harness(db, EARSHOT_ANON_MIN="3")
    await rotated.features.pulses.pulses.check_sealed()
    async with db.write() as session:  # a close under the replaced key fails whole: nothing published or dropped
        with pytest.raises(SecretKeyError):
            await publish_final(session, Sealer((new,)), 1, 1, date.today())
        await session.rollback()
    assert await rotated.features.pulses.pulses.close(1)
    assert [r.value for r in (await stored(rotated))[0]] == []  # one answer, below the minimum: dropped unopened


def test_every_sealed_answer_to_a_question_has_the_same_length() -> None:
    sealer = Sealer((Fernet.generate_key().decode(),))
    words = Question(pulse_id=1, position=0, kind="scale", prompt="?", options=[], allow_comment=True)
    choice = Question(pulse_id=1, position=0, kind="multi", prompt="?", options=[str(n) for n in range(10)])
    answers = [("4", None), ("4", ""), ("1", "ok"), ("5", "Пояснення " * 90), ("2", "ความเห็น" * 120),
               ("3", "😀" * 1000)]
    assert len({len(sealer.seal(words, value, comment)) for value, comment in answers}) == 1
    assert [sealer.open(sealer.seal(words, v, c)) for v, c in answers] == answers
    token = base64.urlsafe_b64decode(sealer.seal(words, "4", None).removeprefix("enc1:"))
    assert token[1:9] == bytes(8)  # Fernet's timestamp, in clear: no time of voting
    assert len({len(sealer.seal(choice, value, None)) for value in ("0", "3,7", ",".join(map(str, range(10))))}) == 1
    assert room(choice) < room(words)
    with pytest.raises(ValueError):
        sealer.seal(words, "4", "😀" * 1100)


async def test_the_periodic_check_leaves_runs_without_a_batch_alone(harness: CoreHarness, db: Database) -> None:
    await command(harness, '"Energy?" scale anonymous')
    await launched_card(harness)
    await cast_sealed(db, Sealer(harness.core.services.keys), MEMBERS[:5])
    await harness.features.pulses.pulses.due()
    await harness.deliver()
    responses, people = await stored(harness)
    assert responses == [] and len([p for p in people if p.sealed]) == 5
    async with harness.db.session() as session:
        assert (await session.exec(select(PulseRun.status).where(col(PulseRun.id) == 1))).one() == "open"


async def test_answers_under_a_truly_lost_key_can_be_given_up_from_the_command_line(
        harness: CoreHarness, db: Database, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    await command(harness, '"Energy?" scale anonymous')
    action = buttons(await launched_card(harness))[0][0]
    for user in MEMBERS[:2]:
        await vote(harness, user, action, "3")
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("EARSHOT_SECRET_KEY", Fernet.generate_key().decode())  # the old key is gone
    assert await asyncio.to_thread(main, ["db", "forget-sealed"]) == 0
    assert "2 anonymous answers waiting to be published can't be opened" in capsys.readouterr().out
    assert len([p for p in (await stored(harness))[1] if p.sealed]) == 2  # only counted
    assert await asyncio.to_thread(main, ["db", "forget-sealed", "--yes"]) == 0
    assert "gave up 2 anonymous answers" in capsys.readouterr().out
    _, people = await stored(harness)
    assert len(people) == 2 and all(p.sealed is None for p in people)  # who answered stays: no second answer
    await make_harness(db).features.pulses.pulses.check_sealed()  # starts again
    assert "anonymous answers are final" in (await vote(harness, "u1", action, "4")).last_text.lower()


async def started(db: Database, **settings: str) -> CoreHarness:
    """A core on `db`, as a process started with `settings` would run it."""
    h = make_harness(db, **settings)
    h.adapter.members["C1"] = list(MEMBERS)
    await h.grant("boss", "manager")
    return h


async def test_a_run_keeps_the_minimum_it_opened_with_whatever_the_setting_later(db: Database) -> None:
    five = await started(db, EARSHOT_ANON_MIN="5", EARSHOT_COMMENT_MIN="10")
    await command(five, '"Energy?" scale anonymous')
    card = await launched_card(five)
    assert "a group of at least 5 people's answers" in str(card.blocks)
    for user in MEMBERS[:6]:
        await vote(five, user, buttons(card)[0][0], "3")
    three = await started(db, EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="5")  # restarted with a lower minimum
    await three.features.pulses.pulses.due()
    await three.deliver()
    assert (await stored(three))[0] == []  # six waiting is no batch for a run promised five (it is for three)
    assert await three.features.pulses.pulses.close(1)
    await three.deliver()
    assert len((await stored(three))[0]) == 6
    final = [card for ref, card in three.adapter.updates if ref.channel_id == "C1"][-1]
    assert "a group of at least 5 people's answers" in str(final.blocks)


async def test_a_start_tries_every_waiting_answer_so_a_rotation_half_done_is_caught(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("EARSHOT_SECRET_KEY", first)
    before = await started(db, EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="5")
    await command(before, '"Energy?" scale anonymous')
    action = buttons(await launched_card(before))[0][0]
    await vote(before, "u1", action, "3")
    monkeypatch.setenv("EARSHOT_SECRET_KEY", f"{second},{first}")  # rotated: the new key seals from now on
    during = await started(db, EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="5")
    for user in ("u2", "u3", "u4"):
        await vote(during, user, action, "3")
    monkeypatch.setenv("EARSHOT_SECRET_KEY", second)  # the old key dropped while its answer still waits
    with pytest.raises(SecretKeyError, match=r"^1 anonymous answers wait to be published"):
        await (await started(db)).features.pulses.pulses.check_sealed()


async def test_a_close_that_cant_open_its_answers_holds_up_no_other_run(
        harness: CoreHarness, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    await command(harness, '"Energy?" scale anonymous close:1h')
    await command(harness, '"Lunch?" yesno close:1h')
    await harness.deliver()
    await cast_sealed(db, Sealer((Fernet.generate_key().decode(),)), MEMBERS[:3])  # under a key not held here
    harness.core.services.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    await harness.features.pulses.pulses.due()
    async with db.session() as session:
        statuses = dict((await session.exec(select(PulseRun.pulse_id, PulseRun.status))).all())
    assert statuses == {1: "open", 2: "closed"}  # the first stays open, sealed answers intact, for a later try
    assert "closing run 1 failed" in caplog.text and len([p for p in (await stored(harness))[1] if p.sealed]) == 3


async def test_a_burst_publishes_when_the_votes_pause_or_every_half_minute(harness: CoreHarness) -> None:
    from bot.pulses.service import PUBLISH_EVERY

    now = datetime(2031, 2, 3, 12, tzinfo=UTC)
    harness.core.services.clock = lambda: now
    pulses = harness.features.pulses.pulses
    assert not pulses._publishing_overdue(7)  # a round with votes coming in: the batches wait for a pause
    now += PUBLISH_EVERY - timedelta(seconds=1)
    assert not pulses._publishing_overdue(7)
    now += timedelta(seconds=1)
    assert pulses._publishing_overdue(7)  # a burst still going on after half a minute: publish all the same
