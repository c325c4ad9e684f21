"""Property-based tests with hostile text in every script: parsers fail only with their documented errors,
escaping leaves no control sequence, cuts never break a grapheme and never lose text."""

from __future__ import annotations

import html
import json
import re
from datetime import date

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sandbox import translate as sandbox
from adapters.slack import translate as slack
from adapters.slack.blocks import render_card as slack_render
from adapters.slack.text import ZWSP, mrkdwn
from adapters.teams import translate as teams
from adapters.teams.escape import WORD_JOINER, escape_markdown, inert
from adapters.teams.render import render_card as teams_render
from bot.cards import Card, Context, Field, Fields, Heading, Quote, Text
from bot.commands import UsageError, split_words
from bot.feedback.items import BadBody, parse_body, validate
from bot.pulses.spec import parse_one_line
from bot.text import clean, cut

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = [
    "ระบบชำระเงินช้ามาก", "پشتیبانی خیلی سریع بود", "الدعم ممتاز", "Приложение вылетает", "アプリの通知が多すぎます",
    "客户反馈", "👩‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "e\u0301", "\u202eevil\u202c", "\u2066iso\u2069", "\u200f", "\x00",
    "\x1b[31m", "\r\n", "\t", "\u0085", "<!channel>", "<!here|here>", "<@U024BE7LH>", "<#C123|general>", "<http://evil|click>",
    "<at>Ana</at>", "<AT id='0'>x</AT>", "[click](https://evil.example)", "**bold**", "_it_", "~strike~", "`code`",
    "```", "> quote", "- item", "1. item", "&amp;", "&lt;", "<script>alert(1)</script>", "<b>", "\\", '"', "'",
    "“smart”", "scale:1-5", "to:#team", "every:fri@16:00", "close:2d", "choices:a,b", ":", "@", "#", "\u200b",
]
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(st.characters(exclude_categories=("Cs",)),
                                                                   max_size=20)), max_size=12).map("".join)

SLACK_SEQUENCE = re.compile(r"<[!@#]|<(?:https?|mailto):")
TEAMS_TAG = regex.compile(r"<\s*[\p{L}/!?]")
MARKDOWN_LINK = regex.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")
CONTROL = regex.compile(r"[\p{Cc}--[\n\t]]|[\u202A-\u202E\u2066-\u2069]", flags=regex.V1)
GRAPHEME = regex.compile(r"\X")


@PROPERTY
@given(st.one_of(hostile, st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 st.lists(st.fixed_dictionaries({"id": hostile, "source": hostile, "text": hostile}), max_size=3)
                 .map(lambda items: "\n".join(json.dumps(i, ensure_ascii=False) for i in items))))
def test_ingest_body_parses_or_says_why(body: str) -> None:
    try:
        items = parse_body(body)
    except BadBody:
        return
    for raw in items:
        try:
            item = validate(raw)
        except ValueError as error:
            assert str(error) and "\n" not in str(error)  # a one-line reason for the caller
            continue
        assert item.text and not CONTROL.search(item.text)  # stored text is clean


@PROPERTY
@given(hostile)
def test_one_line_pulse_syntax_parses_or_explains(text: str) -> None:
    try:
        spec = parse_one_line(split_words(text), "C1", "UTC", date(2026, 3, 2))
    except UsageError as error:
        assert str(error)
        return
    assert spec.title and len(spec.title) <= 300 and spec.questions


@PROPERTY
@given(hostile)
def test_clean_removes_controls_and_bidi_overrides_and_is_stable(text: str) -> None:
    cleaned = clean(text)
    assert not CONTROL.search(cleaned)
    assert clean(cleaned) == cleaned


@PROPERTY
@given(hostile, st.integers(min_value=2, max_value=60))
def test_cut_keeps_graphemes_whole_and_loses_nothing(text: str, limit: int) -> None:
    head, rest = cut(text, limit)
    if rest is None:
        assert head == text
        return
    assert len(head) <= limit and head.endswith("…")
    kept = head.removesuffix("…")
    assert text.startswith(kept)
    boundaries = {m.end() for m in GRAPHEME.finditer(text)} | {0}
    assert len(kept) in boundaries  # never inside an emoji sequence or a syllable with its marks
    assert text[len(kept):].lstrip() == rest or text[len(kept):].strip() == rest.strip()


@PROPERTY
@given(hostile, st.one_of(st.none(), st.integers(min_value=5, max_value=80)))
def test_slack_mrkdwn_never_pings_links_or_formats(text: str, limit: int | None) -> None:
    escaped = mrkdwn(text, limit)
    assert "<" not in escaped and ">" not in escaped
    assert not re.search(r"&(?!amp;|lt;|gt;)", escaped)
    if limit is None and ZWSP not in text:  # nothing is lost: undoing the escapes gives the text back
        assert html.unescape(escaped.replace(ZWSP, "")) == text
    else:
        assert limit is None or len(escaped) <= limit


@PROPERTY
@given(hostile)
def test_teams_escaping_leaves_no_tag_mention_or_link(text: str) -> None:
    for escaped in (escape_markdown(text), inert(text)):
        assert not TEAMS_TAG.search(escaped)
    assert not MARKDOWN_LINK.search(escape_markdown(text))
    assert inert(text).replace(WORD_JOINER, "") == text  # every script and every character kept


def hostile_card(text: str) -> Card:
    return Card(fallback=text, blocks=(Heading(text), Text(text), Quote(text, more=text),
                                       Fields((Field(text or "label", text),)), Context((text,))))


@PROPERTY
@given(hostile)
def test_rendered_cards_carry_no_live_control_sequence(text: str) -> None:
    rendered = slack_render(hostile_card(text))
    mrkdwn_texts = [rendered.text]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                mrkdwn_texts.append(node["text"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(rendered.blocks)
    assert not any(SLACK_SEQUENCE.search(t) for t in mrkdwn_texts)
    for card in teams_render(hostile_card(text)):
        body = json.dumps(card, ensure_ascii=False)
        assert not re.search(r"<at\b", body, re.IGNORECASE)
        blocks = [b["text"] for b in card["body"] if b.get("type") == "TextBlock"]
        assert not any(MARKDOWN_LINK.search(t) for t in blocks)


@PROPERTY
@given(hostile, hostile, hostile)
def test_inbound_translators_accept_or_refuse_cleanly(text: str, user: str, channel: str) -> None:
    try:
        event = slack.command_event({"command": "/pulse", "text": text, "user_id": user, "channel_id": channel})
        assert event.command == "pulse" and event.text == text.strip()
    except slack.BadPayload:
        assert not user
    try:
        sandbox.parse_command({"as": user, "text": text, "channel_id": channel, "client_id": "e1"})
    except sandbox.BadPayload as error:
        assert str(error)
    activity = {"type": "message", "id": "1", "text": text, "from": {"id": user, "name": text},
                "conversation": {"id": channel}, "channelId": "msteams", "serviceUrl": "http://x"}
    for event in teams.events(activity, {"pulse", "station", "digest"}):
        assert event.platform == "teams"
