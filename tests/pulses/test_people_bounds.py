"""A pulse for listed people sends each a DM: the list is bounded (MAX_PEOPLE), and where the platform can tell
who is a person (bot.pulses.audience.PersonLookup), made-up ids are refused by name. Nothing is stored then."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from bot.adapter import DeliveryError
from bot.events import Person
from bot.pulses.spec import MAX_PEOPLE
from storage.tables import Delivery, Pulse
from storage.tables import Person as PersonRow
from tests.pulses.support import MEMBERS, command, submit
from tests.support.core import CoreHarness

CAP_REFUSAL = f"a pulse goes to at most {MAX_PEOPLE} people by name"


async def nothing_launched(h: CoreHarness) -> None:
    await h.deliver()
    async with h.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Pulse))).one() == 0
        assert (await session.exec(select(func.count()).select_from(Delivery))).one() == 0
    assert h.adapter.sent == []


def knows(h: CoreHarness, people: list[str], asked: list[str]) -> None:
    """Give the recording adapter a person lookup, as Slack (users.info) and the sandbox have."""

    async def person(user_id: str) -> Person | None:
        asked.append(user_id)
        return Person("test", user_id) if user_id in people else None

    h.adapter.person = person  # type: ignore[attr-defined]


async def test_a_one_line_pulse_to_too_many_people_is_refused(harness: CoreHarness) -> None:
    many = ",".join(f"@p{n}" for n in range(MAX_PEOPLE + 1))
    reply = await command(harness, f'"Lunch?" yesno to:{many}')
    assert CAP_REFUSAL in reply.last_text and f"({MAX_PEOPLE + 1} listed)" in reply.last_text
    await nothing_launched(harness)


async def test_a_form_listing_thousands_of_people_is_refused(harness: CoreHarness) -> None:
    invented = ", ".join(f"fake{n}" for n in range(3000))
    errors = await submit(harness, "boss", "pulse-new", {"title": "Spam", "questions": "yesno: Hi?",
                                                         "audience": "people", "people": invented}, metadata="C1")
    assert isinstance(errors, dict) and CAP_REFUSAL in errors["people"] and "(3000 listed)" in errors["people"]
    await nothing_launched(harness)


async def test_the_most_people_a_pulse_may_list_each_get_a_dm(harness: CoreHarness) -> None:
    people = [f"p{n}" for n in range(MAX_PEOPLE)]
    reply = await command(harness, f'"Lunch?" yesno to:{",".join(f"<@{p}>" for p in people)}')  # as mentions
    assert f"goes to {MAX_PEOPLE} people by DM" in reply.last_text
    await harness.deliver(rounds=20)
    assert len({s.target.user_id for s in harness.adapter.sent if s.card.fallback == "Pulse: Lunch?"}) == MAX_PEOPLE


async def test_made_up_people_are_refused_where_the_platform_knows_its_people(harness: CoreHarness) -> None:
    asked: list[str] = []
    knows(harness, MEMBERS, asked)
    ghosts = [f"ghost{n}" for n in range(40)]
    reply = await command(harness, '"Lunch?" yesno to:' + ",".join(f"@{u}" for u in ["u1", *ghosts, "u2"]))
    assert "I don't know @ghost0, @ghost1, @ghost2, @ghost3, @ghost4 (and maybe more)" in reply.last_text
    assert len(asked) < 20  # it stops looking once it has enough to name
    harness.adapter.members["C1"].append("boss")  # the form's channel is checked: its author is in it
    errors = await submit(harness, "boss", "pulse-new", {"title": "Hi", "questions": "yesno: Hi?",
                                                         "audience": "people", "people": "u1, mallory"},
                          metadata="C1")
    assert isinstance(errors, dict) and "I don't know @mallory here" in errors["audience"]
    await nothing_launched(harness)


async def test_known_people_launch_and_people_earshot_has_seen_need_no_lookup(harness: CoreHarness) -> None:
    asked: list[str] = []
    knows(harness, MEMBERS, asked)
    async with harness.db.session() as session:
        session.add(PersonRow(platform="test", user_id="zoe", display_name="Zoe"))
        await session.commit()
    reply = await command(harness, '"Lunch?" yesno to:@u1,@u2,@zoe')
    assert "goes to 3 people by DM" in reply.last_text and sorted(asked) == ["u1", "u2"]
    await harness.deliver()
    assert {s.target.user_id for s in harness.adapter.sent if s.card.fallback == "Pulse: Lunch?"} == {
        "u1", "u2", "zoe"}


@pytest.mark.parametrize("retryable", [True, False])
async def test_a_lookup_that_fails_refuses_or_counts_as_unknown(harness: CoreHarness, retryable: bool) -> None:
    async def person(user_id: str) -> Person | None:
        raise DeliveryError("user_not_found" if not retryable else "ratelimited", retryable=retryable)

    harness.adapter.person = person  # type: ignore[attr-defined]
    reply = await command(harness, '"Lunch?" yesno to:@u1')
    expected = "I couldn't check who those people are (ratelimited)" if retryable else "I don't know @u1 here"
    assert expected in reply.last_text
    await nothing_launched(harness)
