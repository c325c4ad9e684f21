"""Text as Slack sends it, back to what the person typed. Slack escapes `&`, `<` and `>` as entities, and
writes links, mentions and channels as `<…>` markup (with escaping on, typed `@ana` arrives as `<@U…|ana>`).
Commands keep the mentions and channels that name an audience (`to:<#C…|team>`, `to:<@U…|ana>,<@U…|ben>`) as
markup, which the command parsers read as ids; anywhere else (a question, a choice, a thread reply) they show
as `@name` and `#name` (`@U…` where Slack sends no name, as in messages)."""

from __future__ import annotations

import re

from adapters.slack.text import ENTITIES

_MARKUP = re.compile(r"<([^<>]*)>")
_AUDIENCE = re.compile(r"(?:^|\s)to:(?:<[^<>]*>\s*,\s*)*$", re.IGNORECASE)
"""Text just before markup that names who a pulse goes to."""
_UNESCAPED = {entity: char for char, entity in ENTITIES.items()}
_ENTITY = re.compile("|".join(_UNESCAPED))


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: _UNESCAPED[m.group()], text)


def _plain(inner: str, keep_mentions: bool) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("!"):  # @here, a user group, a date: Slack's fallback text, else the keyword
        return label or "@" + target[1:]
    if target.startswith(("@", "#")):
        if keep_mentions:
            return f"<{inner}>"
        return target[0] + (label or target[1:])
    return label or target  # a link: what was typed (Slack links bare domains and addresses too)


def typed_text(text: str, keep_mentions: bool) -> str:
    """Slack markup and entities undone: links as typed, mentions as @name/#name, except (`keep_mentions`, for
    commands) where they name an audience."""
    def plain(match: re.Match[str]) -> str:
        audience = keep_mentions and _AUDIENCE.search(text, 0, match.start()) is not None
        return _plain(match.group(1), audience)

    return _unescape(_MARKUP.sub(plain, text))
