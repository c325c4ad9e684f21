"""Registers the commands and handlers of every feature on a core instance."""

from __future__ import annotations

from dataclasses import dataclass

from bot.commands import Command
from bot.core import Earshot
from bot.feedback.feature import Stations


@dataclass
class Features:
    stations: Stations


def install_features(core: Earshot) -> Features:
    features = Features(stations=Stations(core))
    core.commands.register(Command("pulse", "short polls for your team"))
    core.commands.register(Command("digest", "the weekly view of customer and employee signals"))
    return features
