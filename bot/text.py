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
    """Split `text` so the head has at most `limit` characters (its "…" included) and never breaks a grapheme
    (an emoji with joiners, a Thai syllable with its marks, a space carrying a combining mark). Prefers to end
    at whitespace near the limit. Returns (head + "…", rest) where the head without its "…" plus the rest is
    the text itself (the whitespace at the cut starts the rest), or (text, None) when it fits."""
    if len(text) <= limit:
        return text, None
    units: list[tuple[int, int, bool]] = []  # (start, end, all whitespace) of each grapheme that fits
    for match in _GRAPHEME.finditer(text):
        if match.end() > limit - 1:  # keep room for the ellipsis
            break
        units.append((match.start(), match.end(), match.group().isspace()))
    count = len(units)
    size = units[-1][1] if units else 0
    space = next((i for i in range(count - 1, -1, -1) if units[i][2]), None)
    if space is not None and units[space][0] > size * 0.8:
        count = space
    while count and units[count - 1][2]:  # no whitespace before the ellipsis
        count -= 1
    end = units[count - 1][1] if count else 0
    return text[:end] + "…", text[end:]


def casefold(text: str) -> str:
    """For matching keywords in any script: compatibility-normalised and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


_PAIRS = {"“": ("”", '"'), "„": ("“”", '"'), "«": ("»", '"'), "「": ("」", '"'), "‘": ("’", "'"), "‚": ("‘’", "'")}
"""Typographic opening marks: the marks that close them, and the straight quote they stand for."""


def straight_quotes(text: str) -> str:
    """Quotation marks as phones and other keyboards type them (“…”, „…“, «…», 「…」, ‘…’) as " and ', where
    they quote words: opening at the start of a word, closing at the end of one. What they enclose is kept as
    typed, like text in straight quotes (« » inside a question, an apostrophe in “don’t”)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        mark = text[i]
        if mark in "\"'":  # straight quotes: copied through to their end, as shlex will read them
            end = text.find(mark, i + 1)
            end = len(text) - 1 if end < 0 else end
            out.append(text[i:end + 1])
            i = end + 1
            continue
        if mark in _PAIRS and (i == 0 or text[i - 1].isspace() or text[i - 1] in ":,"):
            closers, straight = _PAIRS[mark]
            end = next((j for j in range(i + 1, len(text)) if text[j] in closers
                        and (j + 1 == len(text) or text[j + 1].isspace() or text[j + 1] == ",")), -1)
            if end > 0:
                out.append(straight + text[i + 1:end] + straight)
                i = end + 1
                continue
        out.append(mark)
        i += 1
    return "".join(out)
