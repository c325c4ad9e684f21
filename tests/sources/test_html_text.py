"""html_to_text on hostile markup (an Intercom remark is customer text): bounded work, never an exception."""

from __future__ import annotations

import time

import pytest

from adapters.sources import html_text
from adapters.sources.html_text import MAX_HTML, html_to_text

CRAFTED = ["<a" * 40_000, '<a b="' * 20_000, "<!--" * 20_000, "</" * 40_000, "<![CDATA[" * 10_000, "<a b='<" * 10_000]


@pytest.mark.parametrize("html", CRAFTED, ids=lambda html: repr(html[:9]))
def test_crafted_markup_is_read_in_bounded_time(html: str) -> None:
    started = time.perf_counter()
    text = html_to_text(html)
    assert time.perf_counter() - started < 1.0  # the parser alone took 6 s on "<a" * 40,000
    assert len(text) <= MAX_HTML


def test_only_the_first_max_html_characters_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    fed: list[str] = []
    feed = html_text._Text.feed

    def recording(parser: html_text._Text, data: str) -> None:
        fed.append(data)
        feed(parser, data)

    monkeypatch.setattr(html_text._Text, "feed", recording)
    assert html_to_text("<p>" + "x" * (3 * MAX_HTML) + "</p>") == "x" * (MAX_HTML - 3)
    assert sum(map(len, fed)) == MAX_HTML


@pytest.mark.parametrize(("html", "text"), [
    ("<![foo>kept", "kept"),  # CPython's HTMLParser asserts on an unknown marked section
    ("<p>a &amp; b</p><![foo>c<br>d", "a & b c d"),
    ("<![ x", "<![ x"),
    ("3 <4 and <b>5</b>", "3 <4 and 5"),
    ("<p>Hello <b>there</b></p><p>again</p>", "Hello there\n\nagain"),
])
def test_markup_the_parser_refuses_is_read_as_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
