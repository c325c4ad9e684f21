"""Wires listening stations into a core: the /station command, card buttons, emoji, thread replies."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from bot.cards import Block, Text
from bot.core import Earshot
from bot.events import Person
from bot.feedback.directory import StationDirectory
from bot.feedback.engagement import Engagements
from bot.feedback.ingest import FeedbackIngest
from bot.feedback.mappings import Mapping, load_mapping
from bot.feedback.redact import Redactor
from bot.feedback.rollup import release_held
from bot.feedback.sources import add_sources_command
from bot.feedback.stations import station_command
from bot.text import cut
from storage.tables import Delivery, Feedback, Station


class Stations:
    """The listening-stations feature of one core: ingest, commands, engagement and roll-ups."""

    def __init__(self, core: Earshot) -> None:
        services = core.services
        self._services = services
        self.redact = Redactor(services.settings.redact_patterns)
        directory = StationDirectory()
        self.ingest = FeedbackIngest(services, self.redact, directory)
        engagements = Engagements(services, self.redact)
        command = core.commands.register(station_command(services, self.redact, directory))
        self.webhook_kinds: set[str] = set()
        """The source kinds that take a URL (filled in by the runtime, which knows the tools)."""
        add_sources_command(command, services, self.webhook_kinds)
        core.handlers.actions["fb"] = engagements.on_action
        core.handlers.forms["fb-done"] = engagements.on_done_form
        core.handlers.reactions.append(engagements.on_reaction)
        core.handlers.messages.append(engagements.on_message)
        core.handlers.home.append(self.home_section)
        core.handlers.marks.append(engagements.marks)

    async def home_section(self, person: Person, workspace: str | None) -> tuple[Block, ...]:
        """The latest customer words sent to the stations this person set up in this workspace."""
        async with self._services.db.session() as session:
            channels = select(Station.channel_id).where(
                Station.created_by == person.key, Station.platform == person.platform,
                col(Station.workspace).is_not_distinct_from(workspace))
            sent = select(Delivery.subject_id).where(
                Delivery.subject_kind == "feedback", Delivery.platform == person.platform,
                col(Delivery.message_channel).in_(channels))
            recent = list(await session.exec(
                select(Feedback).where(col(Feedback.id).in_(sent)).order_by(col(Feedback.id).desc()).limit(5)))
        if not recent:
            return (Text("📡 No feedback from your stations yet — /station add subscribes a channel."),)
        lines = [f"• {cut(self.redact(item.text), 120)[0]} ({item.source})" for item in recent]
        return (Text("📡 Latest from your stations:\n" + "\n".join(lines)),)

    def mapping(self, name: str) -> Mapping:
        folder = self._services.settings.mappings_dir
        return load_mapping(name, Path(folder) if folder else None)

    async def release_rollups(self) -> int:
        return await release_held(self._services, self.redact)
