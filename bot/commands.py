"""Chat commands: `/pulse`, `/station`, `/digest` and their subcommands, with help and typo hints."""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.adapter import Responder
from bot.cards import Card, Context, Heading, Text
from bot.events import CommandEvent
from bot.text import straight_quotes

Handler = Callable[[CommandEvent, list[str], Responder], Awaitable[None]]


@dataclass
class Subcommand:
    name: str
    usage: str
    summary: str
    handler: Handler


@dataclass
class Command:
    """One slash command. `default` runs when no subcommand is given (else help is shown)."""

    name: str
    summary: str
    subcommands: dict[str, Subcommand] = field(default_factory=dict)
    default: Handler | None = None
    notes: tuple[str, ...] = ()

    def add(self, name: str, usage: str, summary: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.subcommands[name] = Subcommand(name, usage, summary, handler)
            return handler

        return register

    def help_card(self) -> Card:
        lines = [f"/{self.name} {s.name} {s.usage}".rstrip() + f" — {s.summary}" for s in self.subcommands.values()]
        lines.append(f"/{self.name} help — this help")
        body = "\n".join(lines)
        return Card(fallback=f"/{self.name}: {self.summary}\n{body}",
                    blocks=(Heading(f"/{self.name} — {self.summary}"), Text(body), *(
                        (Context(self.notes),) if self.notes else ())))


class UsageError(Exception):
    """A command the user typed wrong; the message is shown to them privately."""


def split_words(text: str) -> list[str]:
    """Shell-like words, so quoted questions stay whole; smart quotes from phones count as quotes."""
    try:
        return shlex.split(straight_quotes(text))
    except ValueError as error:
        raise UsageError(f"I couldn't read that: {error} (check your quotes)") from None


class CommandRouter:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def register(self, command: Command) -> Command:
        self.commands[command.name] = command
        return command

    async def dispatch(self, event: CommandEvent, responder: Responder) -> None:
        command = self.commands.get(event.command.lstrip("/").lower())
        if command is None:
            known = ", ".join(f"/{name}" for name in self.commands)
            await responder.private(error_card(f"I don't know /{event.command.lstrip('/')}. Try {known}."))
            return
        try:
            words = split_words(event.text)
            if not words and command.default is not None:
                await command.default(event, words, responder)
                return
            if not words or words[0].lower() in ("help", "-h", "--help", "?"):
                await responder.private(command.help_card())
                return
            sub = command.subcommands.get(words[0].lower())
            if sub is None:
                if command.default is not None:
                    await command.default(event, words, responder)
                    return
                raise UsageError(unknown_word(words[0], command))
            await sub.handler(event, words[1:], responder)
        except UsageError as error:
            await responder.private(error_card(str(error), hint=f"/{command.name} help shows what I understand."))


def unknown_word(word: str, command: Command) -> str:
    close = difflib.get_close_matches(word.lower(), list(command.subcommands), n=1, cutoff=0.6)
    suggestion = f" Did you mean /{command.name} {close[0]}?" if close else ""
    return f"/{command.name} has no “{word}”.{suggestion}"


def channel_of(event: CommandEvent, why: str = "run this in a channel") -> str:
    """The channel a command was typed in; direct messages and app homes have none."""
    if not event.channel_id:
        raise UsageError(why)
    return event.channel_id


MAX_ID = 2**31 - 1
"""The largest row id the database holds (a 32-bit integer column on PostgreSQL)."""


def whole_number(text: str, low: int, high: int) -> int | None:
    """`text` as a whole number from `low` to `high` written in ASCII digits, or None. Checked before it becomes
    a number, so 99999999999999999999 (or 5,000 digits, or "²") never reaches timedelta or the database."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def record_id(text: str) -> int | None:
    """A row id as people type it (`12` or `#12`), or None when it can't be one."""
    return whole_number(text.removeprefix("#"), 1, MAX_ID)


def error_card(message: str, hint: str | None = None) -> Card:
    blocks = (Text(f"⚠️ {message}"), *((Context((hint,)),) if hint else ()))
    return Card(fallback=message, blocks=blocks)
