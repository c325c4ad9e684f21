"""Wires listening stations into a core: the /station command, card buttons, emoji, thread replies."""

from __future__ import annotations

from pathlib import Path

from bot.core import Earshot
from bot.feedback.directory import StationDirectory
from bot.feedback.engagement import Engagements
from bot.feedback.ingest import FeedbackIngest
from bot.feedback.mappings import Mapping, load_mapping
from bot.feedback.redact import Redactor
from bot.feedback.rollup import release_held
from bot.feedback.stations import station_command


class Stations:
    """The listening-stations feature of one core: ingest, commands, engagement and roll-ups."""

    def __init__(self, core: Earshot) -> None:
        services = core.services
        self._services = services
        self.redact = Redactor(services.settings.redact_patterns)
        directory = StationDirectory()
        self.ingest = FeedbackIngest(services, self.redact, directory)
        engagements = Engagements(services, self.redact)
        core.commands.register(station_command(services, self.redact, directory))
        core.handlers.actions["fb"] = engagements.on_action
        core.handlers.forms["fb-done"] = engagements.on_done_form
        core.handlers.reactions.append(engagements.on_reaction)
        core.handlers.messages.append(engagements.on_message)

    def mapping(self, name: str) -> Mapping:
        folder = self._services.settings.mappings_dir
        return load_mapping(name, Path(folder) if folder else None)

    async def release_rollups(self) -> int:
        return await release_held(self._services, self.redact)
