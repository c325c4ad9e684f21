"""Plain text made inert for Adaptive Card TextBlocks, and cut at grapheme boundaries.

TextBlocks read a CommonMark subset (bold, italic, lists, `[links](url)`) and Teams turns `<at>…</at>` into
mentions. Customer words must stay words: markdown punctuation is backslash-escaped, and a word joiner
(U+2060, invisible) is slipped after `<`, into `scheme://` and between `{{` so no tag, mention, autolink or
`{{DATE(…)}}`/`{{TIME(…)}}` function (which Teams evaluates in any TextBlock) can form. Letters of every script
pass through untouched.
"""

from __future__ import annotations

import regex

WORD_JOINER = "\u2060"
ELLIPSIS = "…"

_MARKDOWN = regex.compile(r"([\\*_\[\]`])")
_TAG_START = regex.compile(r"<(?=\s*[\p{L}/!?])")
_FUNCTION_START = regex.compile(r"\{(?=\{)")
_SCHEME = regex.compile(r"(?i)(?<=\b[a-z][a-z0-9+.-]*:)(?=//)")
_LIST_MARKER = regex.compile(r"^([ \t]*)(?:([-+])|(\d{1,9})([.)]))(?=[ \t]|$)", regex.MULTILINE)
_GRAPHEME = regex.compile(r"\X")


def escape_markdown(text: str) -> str:
    """Text for a TextBlock or FactSet: shows exactly what was written, never markup, mentions or links."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _LIST_MARKER.sub(_escape_list_marker, text)
    text = inert(text)
    return text.replace("\n", "\n\n")  # a single newline is a space in TextBlock markdown


def inert(text: str) -> str:
    """For places that are not markdown (titles, fallback text): only break tags, mentions, schemes and `{{`."""
    text = _FUNCTION_START.sub("{" + WORD_JOINER, text)
    return _SCHEME.sub(WORD_JOINER, _TAG_START.sub("<" + WORD_JOINER, text))


def _escape_list_marker(match: regex.Match[str]) -> str:
    indent, bullet, number, dot = match.groups()
    return f"{indent}\\{bullet}" if bullet else f"{indent}{number}\\{dot}"


def cut(text: str, max_chars: int) -> tuple[str, str]:
    """Split after at most `max_chars` characters, never inside a grapheme (emoji ZWJ sequences, Thai vowels,
    combining marks stay whole); prefers the last space in the final fifth. Returns (head, rest)."""
    if len(text) <= max_chars:
        return text, ""
    end = 0
    for match in _GRAPHEME.finditer(text):
        if match.end() > max_chars:
            break
        end = match.end()
    if end == 0:  # one grapheme longer than the room: keep it whole rather than loop forever
        end = _GRAPHEME.match(text).end()  # type: ignore[union-attr]
    space = text.rfind(" ", 0, end)
    if space > end * 4 // 5:
        end = space + 1
    return text[:end], text[end:]
