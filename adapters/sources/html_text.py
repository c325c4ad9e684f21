"""HTML from a tool (Intercom remarks and message bodies) as the plain text a person would read."""

from __future__ import annotations

import html as entities
import re
from html.parser import HTMLParser

MAX_HTML = 20_000
"""Characters of HTML read: an item's text holds at most 20,000 (bot/feedback/items.py), and the parser's time
grows faster than its input on crafted markup, so the rest is dropped before parsing."""
_STRAY_LT = re.compile(r"<(?![^<>]*>)")
"""A "<" that opens no tag before the next "<": text, not markup. Escaping these first keeps the parser linear
(on "<a<a<a…" or '<a b="<a b="…' it rescans to the end from every "<") and costs only a "<" inside a quoted
attribute, which well-formed HTML writes as &lt; anyway."""
_TAG = re.compile(r"<[^<>]*>")

_BLOCKS = frozenset({
    "address", "article", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3",
    "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "tr", "ul",
})
_SKIPPED = frozenset({"script", "style", "template", "head", "title"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities (&amp; &#1589; &nbsp;) are decoded by the parser
        self.blocks: list[str] = []
        self.lines: list[str] = [""]
        self.skipping = 0

    def end_block(self) -> None:
        lines = (" ".join(line.split()) for line in self.lines)  # HTML whitespace, source newlines included
        text = "\n".join(line for line in lines if line)
        if text:
            self.blocks.append(text)
        self.lines = [""]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.lines.append("")
        elif tag in _BLOCKS:
            self.end_block()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.end_block()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.lines[-1] += data


def html_to_text(html: str) -> str:
    """Paragraphs and other blocks become lines separated by a blank line, `<br>` a line break; entities are
    decoded, runs of spaces collapsed, scripts and styles dropped. Text with no tags comes back trimmed. Only the
    first MAX_HTML characters are read; markup the parser gives up on (it asserts on "<![foo>") is read as text
    with its tags removed."""
    html = _STRAY_LT.sub("&lt;", html[:MAX_HTML])
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:  # CPython's HTMLParser asserts on some malformed declarations
        return "\n".join(" ".join(line.split()) for line in entities.unescape(_TAG.sub(" ", html)).splitlines()
                         if line.strip())
    parser.end_block()
    return "\n\n".join(parser.blocks)
