"""Text that came from outside: cleaned of invisible control characters and cut at grapheme boundaries."""

from __future__ import annotations

import unicodedata

import regex

_CONTROLS = regex.compile(r"[\p{Cc}--[\n\t]]|[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]", flags=regex.V1)
_GRAPHEME = regex.compile(r"\X")


def clean(text: str) -> str:
    """NFC-normalised, without control characters or bidi overrides (which can disguise text);
    newlines and tabs stay. Joiners inside emoji and scripts (ZWJ, ZWNJ) stay."""
    return _CONTROLS.sub("", unicodedata.normalize("NFC", text)).strip()


def cut(text: str, limit: int) -> tuple[str, str | None]:
    """Split `text` so the head has at most `limit` characters and never breaks a grapheme (an emoji with
    joiners, a Thai syllable with its marks). Prefers a space near the end; returns (head, rest or None)."""
    if len(text) <= limit:
        return text, None
    size = 0
    for match in _GRAPHEME.finditer(text):
        if match.end() > limit - 1:  # keep room for the ellipsis
            break
        size = match.end()
    space = text.rfind(" ", 0, size)
    if space > size * 0.8:
        size = space
    return text[:size].rstrip() + "…", text[size:].lstrip()


def casefold(text: str) -> str:
    """For matching keywords in any script: compatibility-normalised and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()
