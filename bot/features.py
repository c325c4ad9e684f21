"""Registers the commands and handlers of every feature on a core instance."""

from __future__ import annotations

from bot.commands import Command
from bot.core import Earshot


def install_features(core: Earshot) -> None:
    core.commands.register(Command("pulse", "short polls for your team"))
    core.commands.register(Command("station", "customer feedback, live in this channel"))
    core.commands.register(Command("digest", "the weekly view of customer and employee signals"))
