"""What the digest calls its teams and people: the platform's names (bot.adapter.NameLookup), or the id where
the platform has none or can't answer just now. Names are plain text; each format escapes them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

from bot.adapter import DeliveryError, NameLookup
from bot.events import Person
from bot.text import clean, cut

log = logging.getLogger(__name__)

LOOKUPS_AT_ONCE = 8
NAME_LIMIT = 80


def _shown(name: str | None) -> str | None:
    """One line, no control characters, not too long; None when nothing is left."""
    if not name:
        return None
    text = " ".join(clean(name).split())
    return cut(text, NAME_LIMIT)[0] if text else None


async def _ask(ask: Callable[[], Awaitable[str | None]], what: str) -> str | None:
    try:
        return _shown(await ask())
    except DeliveryError as error:  # the digest still goes out, naming this one by its id
        log.info("no name for %s: %s", what, error.reason)
        return None


async def channel_names(lookups: Mapping[str, object], channels: Iterable[tuple[str, str]]) -> dict[str, str]:
    """`platform:channel` → the channel's name, for the (platform, channel id) pairs whose platform names them."""
    slots = asyncio.Semaphore(LOOKUPS_AT_ONCE)
    asked = sorted(set(channels))

    async def one(platform: str, channel_id: str) -> str | None:
        lookup = lookups.get(platform)
        if not isinstance(lookup, NameLookup):
            return None
        async with slots:
            return await _ask(lambda: lookup.channel_name(channel_id), f"{platform}:{channel_id}")

    found = await asyncio.gather(*(one(platform, channel) for platform, channel in asked))
    return {f"{platform}:{channel}": name for (platform, channel), name in zip(asked, found, strict=True) if name}


async def person_name(lookups: Mapping[str, object], person: Person) -> str:
    """The name the event carried, else the platform's, else the id."""
    given = _shown(person.name)
    if given:
        return given
    lookup = lookups.get(person.platform)
    if isinstance(lookup, NameLookup):
        return await _ask(lambda: lookup.person_name(person.user_id), person.key) or person.user_id
    return person.user_id
