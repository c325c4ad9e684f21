"""Launching: a channel pulse needs no per-person lookups, a launch the platform fails leaves nothing behind,
and the creation form offers everything the one-line syntax does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from bot.adapter import DeliveryError
from bot.events import Person
from bot.pulses.form import creation_form
from storage.tables import Delivery, Pulse, PulseRun, Question
from tests.pulses.support import MEMBERS, command, launched_card, sent, submit
from tests.support.core import CoreHarness


async def rate_limited(channel_id: str) -> list[Person]:
    raise DeliveryError("ratelimited (users.info)", retryable=True, retry_after=30)


async def stored(h: CoreHarness) -> tuple[list[Pulse], list[Question], list[PulseRun]]:
    async with h.db.session() as session:
        return (list(await session.exec(select(Pulse))), list(await session.exec(select(Question))),
                list(await session.exec(select(PulseRun))))


async def test_a_channel_pulse_looks_nobody_up(harness: CoreHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.adapter, "list_members", rate_limited)  # a big channel: users.info answers 429
    assert "goes to this channel, now" in (await command(harness, '"Coffee?" yesno')).last_text
    assert (await launched_card(harness)).fallback == "Pulse: Coffee?"
    _, _, (run,) = await stored(harness)
    assert run.audience_size is None  # no cheap count from this platform: no participation rate


async def test_a_channel_pulse_counts_members_where_the_platform_lists_ids_cheaply(
        harness: CoreHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def member_ids(channel_id: str) -> list[str]:
        return list(MEMBERS)

    monkeypatch.setattr(harness.adapter, "list_members", rate_limited)
    monkeypatch.setattr(harness.adapter, "member_ids", member_ids, raising=False)
    await command(harness, '"Coffee?" yesno')
    _, _, (run,) = await stored(harness)
    assert run.audience_size == len(MEMBERS)
    results = (await command(harness, "results")).private_cards[-1]
    assert "0 answered of 8 (0%)" in str(results.blocks)


async def test_a_launch_the_platform_fails_leaves_nothing_half_launched(harness: CoreHarness,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.adapter, "list_members", rate_limited)
    reply = await command(harness, '"Quick one?" yesno to:dm')
    assert "nothing was launched. Please try again in a minute." in reply.last_text
    assert await stored(harness) == ([], [], [])
    async with harness.db.session() as session:
        assert list(await session.exec(select(Delivery))) == []
    assert "No open pulses" in (await command(harness, "list")).last_text


async def test_eleven_questions_are_refused_in_the_form(harness: CoreHarness) -> None:
    form = (await command(harness, "")).forms[0]
    questions = "\n".join(f"yesno: Question {n}?" for n in range(1, 12))
    errors = await submit(harness, "boss", form.form_id, {"title": "Too long", "questions": questions},
                          form.metadata)
    assert errors == {"questions": "a pulse has at most 10 questions (11 now)"}
    assert await stored(harness) == ([], [], [])


def test_the_form_has_every_field_of_the_one_line_syntax() -> None:
    form = creation_form("C1", "Europe/Berlin")
    fields = {i.name: i for i in form.inputs}
    assert list(fields) == ["title", "questions", "audience", "people", "anonymous", "results", "share", "close",
                            "remind", "every", "when", "tz"]
    assert [o.value for o in fields["audience"].options] == ["channel", "dm", "people"]
    assert [o.value for o in fields["when"].options] == ["zone", "local"]
    assert "+comment" in (fields["questions"].hint or "") and fields["tz"].initial == "Europe/Berlin"


async def test_the_form_launches_with_people_reminders_local_time_sharing_and_comment_boxes(
        harness: CoreHarness) -> None:
    form = (await command(harness, "")).forms[0]
    values: dict[str, Any] = {
        "title": "Monday check-in", "questions": "scale+comment: How do you start the week?\ntext: Anything else?",
        "audience": "people", "people": "<@U1|ana>, @ben U3", "anonymous": "yes", "results": "close",
        "share": "yes", "remind": "4h", "every": "mon@09:00", "when": "local", "tz": ""}
    harness.adapter.members["C1"].append("boss")  # the form's channel is checked: its author is in it
    assert await submit(harness, "boss", form.form_id, values, form.metadata) is None
    (pulse,), (scale, text), runs = await stored(harness)
    assert pulse.audience == {"kind": "people", "users": ["U1", "ben", "U3"], "share": True}
    assert (pulse.anonymous, pulse.results_live, pulse.remind_after_minutes) == (True, False, 240)
    assert pulse.recurrence is not None and pulse.recurrence["local"] and pulse.recurrence["at"] == "09:00"
    assert (scale.kind, scale.allow_comment, text.kind, text.allow_comment) == ("scale", True, "text", False)
    assert runs == []  # it waits for Monday 09:00 in each person's zone


async def test_people_picked_in_the_form_arrive_as_ids(harness: CoreHarness) -> None:
    form = (await command(harness, "")).forms[0]
    assert next(i for i in form.inputs if i.name == "people").kind == "people"  # a picker where there is one
    values: dict[str, Any] = {"title": "Lunch?", "questions": "yesno: Lunch on Friday?", "audience": "people",
                              "people": ("U0ANA0001", "U0BEN0001")}  # what Slack's user picker answers
    harness.adapter.members["C1"].append("boss")
    assert await submit(harness, "boss", form.form_id, values, form.metadata) is None
    (pulse,), _, _ = await stored(harness)
    assert pulse.audience["users"] == ["U0ANA0001", "U0BEN0001"]


@pytest.mark.parametrize("changes, field, message", [
    ({"audience": "people", "people": ""}, "people", "list the people"),
    ({"when": "local", "every": "mon@09:00"}, "when", "needs DMs"),
    ({"audience": "dm", "when": "local"}, "when", "goes with a repeat"),
    ({"remind": "soon"}, "remind", "is not a duration"),
    ({"questions": "scale+coment: Energy?"}, "questions", "after “+” only comment is known"),
])
async def test_form_mistakes_show_beside_their_field(harness: CoreHarness, changes: dict[str, str], field: str,
                                                     message: str) -> None:
    form = (await command(harness, "")).forms[0]
    values = {"title": "Check-in", "questions": "scale: Energy?", **changes}
    errors = await submit(harness, "boss", form.form_id, values, form.metadata)
    assert isinstance(errors, dict) and list(errors) == [field] and message in errors[field]
    assert sent(harness, "Pulse:") == []
