"""Text as Slack sends it, back to what the person typed. Slack escapes `&`, `<` and `>` as entities, and
writes links, mentions and channels as `<…>` markup (with escaping on, typed `@ana` arrives as `<@U…|ana>`).
Commands keep mention and channel markup, which the command parsers read as ids; written text (thread replies)
shows them as `@name` and `#name` (`@U…` where Slack sends no name, as in messages)."""

from __future__ import annotations

import re

_MARKUP = re.compile(r"<([^<>]*)>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}
_ENTITY = re.compile("|".join(_ENTITIES))


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: _ENTITIES[m.group()], text)


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
    """Slack markup and entities undone: links as typed, mentions kept as markup or shown as @name/#name."""
    return _unescape(_MARKUP.sub(lambda m: _plain(m.group(1), keep_mentions), text))
