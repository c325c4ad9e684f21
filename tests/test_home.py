"""The home card (Slack's Home tab): open pulses waiting for the person, and their stations' latest quotes."""

from __future__ import annotations

import uuid

from bot.events import ActionEvent, CommandEvent, MessageRef, Person
from storage.engine import Database
from storage.tables import Station
from tests.support.core import make_harness
from tests.support.recording import RecordingResponder


async def test_home_shows_waiting_pulses_and_station_quotes(db: Database) -> None:
    h = make_harness(db)
    await h.grant("boss", "manager")
    boss, ana = Person("test", "boss"), Person("test", "ana")
    empty = str((await h.core.home_card(boss)).blocks)
    assert "No feedback from your stations yet" in empty and "No open pulses" in empty
    async with db.session() as session:
        session.add(Station(platform="test", channel_id="C1", filters={}, created_by="test:boss"))
        await session.commit()
    await h.features.stations.ingest.ingest([{"id": "1", "source": "g2", "text": "Call me: +1 415 555 0133"}])
    await h.core.handle(CommandEvent(platform="test", event_id="c", actor=boss, channel_id="C1", command="pulse",
                                     text='"Coffee?" yesno'), RecordingResponder())
    await h.deliver()
    home = str((await h.core.home_card(boss)).blocks)
    assert "Call me: [phone] (g2)" in home and "• Coffee?" in home
    await h.core.handle(ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=ana, channel_id="C1",
                                    action_id="pulse:vote:1:1", value="yes", message=MessageRef("test", "C1", "m")),
                        RecordingResponder())
    assert "No open pulses waiting for you" in str((await h.core.home_card(ana)).blocks)
