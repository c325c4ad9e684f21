"""Channels named as people type them. In a command, `to:#support` is the channel called support: it becomes
the markup Slack and Teams send for a channel picked from their menus (`to:<#C-support|support>`), which the
command parsers read as the channel's id. An id typed as such, or a name no channel has, is left as typed (the
command then says it can't find that channel). Quoted text (a question that says "to:#support") stays as typed."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlmodel import select

from bot.events import CommandEvent
from bot.pulses.spec import QUOTED_PARTS
from bot.text import casefold, straight_quotes
from storage.engine import Database
from storage.tables import SandboxChannel

_TO_CHANNEL = re.compile(r"(?<![^\s,])(to:)#([\w\-]+)(?![\w\-])", re.IGNORECASE)


def _quoted_spans(text: str) -> list[range]:
    """Where `text` is quoted. straight_quotes maps each character to one, so its positions are `text`'s."""
    return [range(*match.span()) for match in QUOTED_PARTS.finditer(straight_quotes(text))]


async def channel_ids_for_names(db: Database, text: str) -> str:
    """`text` with each `to:#name` of a sandbox channel written as that channel's markup."""
    if _TO_CHANNEL.search(text) is None:
        return text
    async with db.session() as session:
        rows = list(await session.exec(select(SandboxChannel.id, SandboxChannel.name).where(
            SandboxChannel.kind == "channel")))
    ids = {channel_id for channel_id, _ in rows}
    by_name = {casefold(name): channel_id for channel_id, name in rows}

    quoted = _quoted_spans(text)

    def markup(match: re.Match[str]) -> str:
        if any(match.start() in span for span in quoted):
            return match.group(0)
        prefix, word = match.group(1), match.group(2)
        found = None if word in ids else by_name.get(casefold(word))
        return f"{prefix}<#{found}|{word}>" if found else match.group(0)

    return _TO_CHANNEL.sub(markup, text)


async def with_channel_ids(db: Database, command: CommandEvent) -> CommandEvent:
    """The command with the channels its audience names by name written as their ids."""
    text = await channel_ids_for_names(db, command.text)
    return command if text == command.text else replace(command, text=text)
