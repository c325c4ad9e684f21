"""The server re-checks every write whatever a client sends: an answer from outside a pulse's audience is
refused politely and nothing is stored; a creation form can't launch into a channel its author isn't in,
whatever its metadata says."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import func, select

from bot.adapter import DeliveryError
from bot.events import FormSubmitted, Person, Target
from bot.pulses.audience import RECHECK_SECONDS, Members
from bot.pulses.voting import NOT_YOURS
from storage.tables import Delivery, Pulse
from tests.pulses.support import MEMBERS, answer_counts, buttons, command, launched_card, submit, vote
from tests.support.core import CoreHarness
from tests.support.recording import RecordingAdapter, RecordingResponder


async def dm_card(h: CoreHarness, user: str) -> list[tuple[str, str, str]]:
    await h.deliver()
    return buttons(next(s.card for s in h.adapter.sent if s.target == Target.user("test", user)
                        and s.card.fallback.startswith("Pulse:")))


@pytest.mark.parametrize("anonymous", ["anonymous", "named"])
async def test_mei_cannot_answer_a_pulse_for_ana_and_ben(harness: CoreHarness, anonymous: str) -> None:
    await command(harness, f'"Lunch on Friday?" yesno comment to:<@ana>,<@ben> {anonymous}')
    actions = {label: action for action, label, _ in await dm_card(harness, "ana")}
    reply = await vote(harness, "mei", actions["👍 Yes"], "yes")
    assert reply.last_text == NOT_YOURS
    comment = next(action for action in actions.values() if action.startswith("pulse:comment:"))
    opened = await vote(harness, "mei", comment, "")
    assert opened.forms == [] and opened.last_text == NOT_YOURS  # no form to fill in for nothing
    _, run, question = comment.rsplit(":", 2)
    errors = await submit(harness, "mei", f"pulse-answer:{run}:{question}", {"answer": "yes", "comment": "hi"})
    assert errors == {"answer": NOT_YOURS}
    assert await answer_counts(harness.db) == (0, 0)
    assert (await vote(harness, "ana", actions["👍 Yes"], "yes")).last_text != NOT_YOURS
    assert await answer_counts(harness.db) == (1, 1)


async def test_only_those_a_dm_pulse_went_to_may_answer(harness: CoreHarness) -> None:
    await command(harness, '"Coffee?" yesno to:dm anonymous')
    (yes, _, _), _ = await dm_card(harness, "u1")
    assert (await vote(harness, "mei", yes, "yes")).last_text == NOT_YOURS
    assert "anonymous answer is in" in (await vote(harness, "u1", yes, "yes")).last_text
    assert await answer_counts(harness.db) == (1, 1)


async def test_a_channel_pulse_takes_answers_from_its_channels_members(harness: CoreHarness) -> None:
    await command(harness, '"Coffee?" yesno named')
    yes = buttons(await launched_card(harness))[0][0]
    assert (await vote(harness, "mei", yes, "yes")).last_text == NOT_YOURS
    for user in MEMBERS[:3]:
        assert "Recorded" in (await vote(harness, user, yes, "yes")).last_text
    assert await answer_counts(harness.db) == (3, 3)


async def test_when_the_platform_cant_say_who_is_in_the_channel_nothing_is_stored(
        harness: CoreHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    await command(harness, '"Coffee?" yesno named')
    yes = buttons(await launched_card(harness))[0][0]

    async def unreachable(channel_id: str) -> list[Person]:
        raise DeliveryError("ratelimited", retryable=True, retry_after=30)

    monkeypatch.setattr(harness.adapter, "list_members", unreachable)
    assert "Please try again in a minute" in (await vote(harness, "u1", yes, "yes")).last_text
    assert await answer_counts(harness.db) == (0, 0)


async def test_someone_who_just_joined_the_channel_can_answer() -> None:
    adapter = RecordingAdapter()
    adapter.members["C1"] = ["u1"]
    now = [0.0]
    members = Members({"test": adapter}, clock=lambda: now[0])
    assert await members.holds("test", "C1", "u1") is True
    adapter.members["C1"].append("u2")
    assert await members.holds("test", "C1", "u2") is False  # asked a moment ago: not asked again at once
    now[0] += RECHECK_SECONDS
    assert await members.holds("test", "C1", "u2") is True


def form_submission(user: str, metadata: str, **values: str) -> FormSubmitted:
    return FormSubmitted(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user), channel_id=None,
                         form_id="pulse-new", metadata=metadata,
                         values={"title": "Salaries", "questions": "yesno: Fair pay?", **values})


@pytest.mark.parametrize("audience", [{"audience": "dm"}, {"audience": "channel"},
                                      {"audience": "people", "people": "@ana", "share": "yes"}])
async def test_a_form_naming_a_channel_its_author_is_not_in_launches_nothing(harness: CoreHarness,
                                                                            audience: dict[str, str]) -> None:
    harness.adapter.members["C-board"] = ["ceo", "cfo"]
    await harness.grant("maria", "manager")
    errors = await harness.core.handle(form_submission("maria", "C-board", **audience), RecordingResponder())
    assert errors == {"audience": "you aren't in #C-board: you can send a pulse only to a channel you are in (admins "
                                  "can send it anywhere)"}
    await harness.deliver()
    async with harness.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Pulse))).one() == 0
        assert (await session.exec(select(func.count()).select_from(Delivery))).one() == 0
    assert harness.adapter.sent == []


async def test_a_form_from_a_channel_its_author_is_in_or_from_an_admin_launches(harness: CoreHarness) -> None:
    harness.adapter.members["C-board"] = ["ceo", "cfo", "maria"]
    await harness.grant("maria", "manager")
    await harness.grant("sam", "admin")
    assert await harness.core.handle(form_submission("maria", "C-board", audience="dm"), RecordingResponder()) is None
    assert await harness.core.handle(form_submission("sam", "C1", audience="channel"), RecordingResponder()) is None
    await harness.deliver()
    assert {s.target for s in harness.adapter.sent if s.card.fallback == "Pulse: Salaries"} == {
        Target.user("test", "ceo"), Target.user("test", "cfo"), Target.user("test", "maria"),
        Target.channel("test", "C1")}


async def test_a_form_sent_by_hand_gets_only_what_the_question_offers(harness: CoreHarness) -> None:
    """A client may post any form fields: a comment to a question without a comment box, or an answer value to a
    words question, is refused and stores nothing (sealed, an oversized one used to fail the vote with a 500)."""
    await command(harness, '"Energy?" scale anonymous')
    scale = buttons(await launched_card(harness))[0][0]
    _, run, question = scale.rsplit(":", 2)
    errors = await submit(harness, "u1", f"pulse-answer:{run}:{question}", {"answer": "4", "comment": "x" * 900})
    assert errors == {"answer": "This question takes no comment."}
    await command(harness, '"Wins this week?" text anonymous')
    await harness.deliver()
    words = next(a for s in harness.adapter.sent if s.card.fallback == "Pulse: Wins this week?"
                 for a, _, _ in buttons(s.card))
    _, run, question = words.rsplit(":", 2)
    errors = await submit(harness, "u1", f"pulse-answer:{run}:{question}", {"answer": "5", "comment": "shipped"})
    assert errors == {"answer": "That isn't one of the answers to this question."}
    assert await answer_counts(harness.db) == (0, 0)
    assert await submit(harness, "u1", f"pulse-answer:{run}:{question}", {"comment": "shipped"}) is None
    assert await answer_counts(harness.db) == (1, 1)
