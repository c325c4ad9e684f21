"""The home card (Slack's Home tab): open pulses waiting for the person, and their stations' latest quotes."""

from __future__ import annotations

import uuid

import pytest

from bot.adapter import DeliveryError
from bot.events import ActionEvent, CommandEvent, MessageRef, Person
from storage.engine import Database
from storage.tables import Station
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder


async def pulse(h: CoreHarness, text: str, channel: str = "C1") -> None:
    await h.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "boss"),
                                     channel_id=channel, command="pulse", text=text), RecordingResponder())


async def home(h: CoreHarness, user: str) -> str:
    return str((await h.core.home_card(Person("test", user), None)).blocks)


async def test_home_shows_waiting_pulses_and_station_quotes(db: Database) -> None:
    h = make_harness(db)
    h.adapter.members["C1"] = ["boss", "ana"]
    await h.grant("boss", "manager")
    boss, ana = Person("test", "boss"), Person("test", "ana")
    empty = str((await h.core.home_card(boss, None)).blocks)
    assert "No feedback from your stations yet" in empty and "No open pulses" in empty
    async with db.session() as session:
        session.add(Station(platform="test", channel_id="C1", filters={}, created_by="test:boss"))
        await session.commit()
    await h.features.stations.ingest.ingest([{"id": "1", "source": "g2", "text": "Call me: +1 415 555 0133"}])
    await pulse(h, '"Coffee?" yesno')
    await h.deliver()
    shown = await home(h, "boss")
    assert "Call me: [phone] (g2)" in shown and "• Coffee?" in shown
    await h.core.handle(ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=ana, channel_id="C1",
                                    action_id="pulse:vote:1:1", value="yes", message=MessageRef("test", "C1", "m")),
                        RecordingResponder())
    assert "No open pulses waiting for you" in await home(h, "ana")


async def test_home_shows_only_the_pulses_a_person_is_in_the_audience_of(db: Database,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    h = make_harness(db)
    h.adapter.members.update({"C1": ["boss", "ana"], "C2": ["ana", "ben"]})
    await h.grant("boss", "manager")
    await pulse(h, '"Coffee?" yesno')  # channel C1: its members
    await pulse(h, '"Lunch?" yesno to:dm', channel="C2")  # a DM to each member of C2
    await pulse(h, '"Parking?" yesno to:<@zoe>')  # one listed person
    await h.deliver()
    assert "• Coffee?" in await home(h, "boss") and "Lunch?" not in await home(h, "boss")
    assert "Parking?" not in await home(h, "boss")
    ana = await home(h, "ana")
    assert "• Coffee?" in ana and "• Lunch?" in ana
    assert "Parking?" not in ana
    assert "• Lunch?" in await home(h, "ben") and "Coffee?" not in await home(h, "ben")
    zoe = await home(h, "zoe")
    assert "• Parking?" in zoe and "Coffee?" not in zoe and "Lunch?" not in zoe
    assert "No open pulses waiting for you" in await home(h, "mallory")

    async def unavailable(channel_id: str) -> list[Person]:
        raise DeliveryError("ratelimited", retryable=True)

    h.adapter.members["C3"] = ["ana"]
    await pulse(h, '"Tea?" yesno', channel="C3")
    monkeypatch.setattr(h.adapter, "list_members", unavailable)
    assert "Tea?" not in await home(h, "ana")  # members unknown: shown to nobody rather than to everybody


async def test_home_lists_only_what_was_made_in_the_workspace_it_is_opened_in(db: Database) -> None:
    """One Earshot in two Slack workspaces: a person in both (a shared channel, an Enterprise Grid user) sees in
    each workspace's Home tab that workspace's pulses and stations alone."""
    h = make_harness(db)
    h.adapter.members.update({"C-A": ["boss", "ana"], "C-B": ["boss", "ana"]})
    await h.grant("boss", "manager")
    async with db.session() as session:
        for channel, workspace, area in (("C-A", "W-A", "alpha"), ("C-B", "W-B", "bravo")):
            session.add(Station(platform="test", channel_id=channel, workspace=workspace, filters={"areas": [area]},
                                created_by="test:boss"))
        await session.commit()
    await h.features.stations.ingest.ingest([
        {"id": "1", "source": "g2", "text": "Alpha customers say hi", "product_area": "alpha"},
        {"id": "2", "source": "g2", "text": "Bravo customers say hi", "product_area": "bravo"}])
    for channel, workspace, question in (("C-A", "W-A", "Ship on Friday?"), ("C-B", "W-B", "Lunch on Monday?")):
        await h.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "boss"),
                                         channel_id=channel, command="pulse", text=f'"{question}" yesno',
                                         workspace=workspace), RecordingResponder())
    await h.deliver()
    for user in ("boss", "ana"):
        in_b = str((await h.core.home_card(Person("test", user), "W-B")).blocks)
        assert "Lunch on Monday?" in in_b and "Ship on Friday?" not in in_b
        in_a = str((await h.core.home_card(Person("test", user), "W-A")).blocks)
        assert "Ship on Friday?" in in_a and "Lunch on Monday?" not in in_a
    boss_in_b = str((await h.core.home_card(Person("test", "boss"), "W-B")).blocks)
    assert "Bravo customers" in boss_in_b and "Alpha customers" not in boss_in_b
    elsewhere = str((await h.core.home_card(Person("test", "boss"), None)).blocks)
    assert "No open pulses" in elsewhere and "No feedback from your stations yet" in elsewhere
