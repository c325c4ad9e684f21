"""Plain text → Slack text: mrkdwn escaping that never pings, links or formats, and grapheme-safe cuts.

Slack has no escape character for its formatting marks, so a mark that could open or close bold, italic,
strike or code gets a zero-width space on both sides: whether Slack reads that space as a word boundary or as
a letter, the mark can then neither open nor close a span. Marks inside a word (`snake_case`) stay untouched.
"""

from __future__ import annotations

import regex

ZWSP = "\u200b"
ELLIPSIS = "…"
_MARKS = frozenset("*_~`")
ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
"""What Slack reads as its own markup, and how to write it as text."""
_GRAPHEME = regex.compile(r"\X")
_SPECIAL = regex.compile(r"[*_~`&<>]")


def graphemes(text: str) -> list[str]:
    """User-perceived characters: an emoji ZWJ family or a Thai syllable with its marks stays one unit."""
    return _GRAPHEME.findall(text)


def cut_plain(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut at a grapheme boundary with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    used = len(ELLIPSIS)
    for unit in graphemes(text):
        if used + len(unit) > limit:
            break
        kept.append(unit)
        used += len(unit)
    return "".join(kept).rstrip() + ELLIPSIS


def _is_word(char: str) -> bool:
    return char.isalnum()


def escape_units(text: str) -> list[str]:
    """`text` as mrkdwn, one escaped string per grapheme, so callers can cut between units."""
    units = graphemes(text)
    if not _SPECIAL.search(text):  # most text: nothing to escape
        return units
    out: list[str] = []
    for i, unit in enumerate(units):
        if len(unit) == 1 and not _SPECIAL.match(unit):
            out.append(unit)
            continue
        before = units[i - 1][-1] if i else ""
        after = units[i + 1][0] if i + 1 < len(units) else ""
        if unit in _MARKS and not (_is_word(before) and _is_word(after)):
            out.append(f"{ZWSP}{unit}{ZWSP}")
        elif unit == ">" and before in ("", "\n"):
            out.append(f"{ZWSP}&gt;")  # a line starting with > would become a block quote
        else:
            out.append("".join(ENTITIES.get(c, c) for c in unit))
    return out


def mrkdwn(text: str, limit: int | None = None) -> str:
    """Escape plain text for a mrkdwn field; with `limit`, cut (whole graphemes, whole entities) to fit it."""
    units = escape_units(text)
    escaped = "".join(units)
    if limit is None or len(escaped) <= limit:
        return escaped
    return join_within(units, limit - len(ELLIPSIS)).rstrip() + ELLIPSIS


def join_within(units: list[str], limit: int) -> str:
    """As many whole units as fit in `limit` characters."""
    kept: list[str] = []
    used = 0
    for unit in units:
        if used + len(unit) > limit:
            break
        kept.append(unit)
        used += len(unit)
    return "".join(kept)


def split_units(units: list[str], limit: int) -> list[list[str]]:
    """Consecutive runs of units, each at most `limit` characters, preferring to break after a line or space."""
    chunks: list[list[str]] = []
    start = 0
    while start < len(units):
        used, end, soft = 0, start, None
        while end < len(units) and used + len(units[end]) <= limit:
            used += len(units[end])
            if units[end] == " " or units[end].endswith("\n"):
                soft = end + 1
            end += 1
        if end == start:  # one unit longer than the limit: it goes alone rather than looping forever
            end = start + 1
        elif end < len(units) and soft is not None and soft > start + (end - start) // 2:
            end = soft
        chunks.append(units[start:end])
        start = end
    return chunks
