"""Property-based tests with hostile text in every script: parsers fail only with their documented errors,
escaping leaves no control sequence, cuts never break a grapheme and never lose text."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sandbox import translate as sandbox
from adapters.slack import translate as slack
from adapters.slack.blocks import decode_action_id, encode_action_id
from adapters.slack.blocks import render_card as slack_render
from adapters.slack.text import ZWSP, mrkdwn
from adapters.teams import files as teams_files
from adapters.teams import translate as teams
from adapters.teams.escape import WORD_JOINER, escape_markdown, inert
from adapters.teams.render import CHOICE_PREFIX, INPUT_PREFIX, MULTI_KEY
from adapters.teams.render import render_card as teams_render
from bot.cards import Card, Context, Field, Fields, Heading, Quote, Text
from bot.commands import UsageError, split_words
from bot.events import ActionEvent, FormSubmitted, MessageRef
from bot.feedback.card import FeedbackView, feedback_card
from bot.feedback.items import BadBody, parse_body, validate
from bot.feedback.redact import Redactor
from bot.pulses.spec import parse_one_line
from bot.text import clean, cut

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = [
    # scripts: Thai (with tone marks), Persian (with ZWNJ), Arabic (with harakat), Russian, Ukrainian, Japanese, CJK
    "ระบบชำระเงินช้ามาก", "น้ำ", "پشتیبانی خیلی سریع بود", "می\u200cخواهم", "الدعم ممتاز", "شُكْرًا",
    "Приложение вылетает", "Застосунок зависає, ґанок і їжак", "アプリの通知が多すぎます", "返金してください",
    "客户反馈",
    # emoji: ZWJ sequences, flags, skin tones; combining marks
    "👩‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🧑🏾‍💻", "🇺🇦", "e\u0301",
    # controls and bidi overrides
    "\u202eevil\u202c", "\u2066iso\u2069", "\u200f", "\x00", "\x1b[31m", "\r\n", "\t", "\u0085", "\u200b",
    # Slack and Teams mention and link syntax
    "<!channel>", "<!here|here>", "<@U024BE7LH>", "<#C123|general>", "<http://evil|click>", "<!subteam^S123>",
    "<mailto:a@b.c|mail>", "<at>Ana</at>", "<AT id='0'>x</AT>", "&#60;at&#62;",
    # markdown and HTML
    "[click](https://evil.example)", "[x]( javascript:alert(1) )", "![i](http://x/i.png)", "**bold**", "_it_",
    "~strike~", "`code`", "```", "> quote", "- item", "1. item", "&amp;", "&lt;", "<script>alert(1)</script>", "<b>",
    "<img src=x onerror=alert(1)>", "\\", '"', "'", "“smart”",
    # command syntax
    "scale:1-5", "to:#team", "every:fri@16:00", "close:2d", "choices:a,b", ":", "@", "#",
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
        assert head == text and len(text) <= limit
        return
    assert len(text) > limit
    assert len(head) <= limit and head.endswith("…")
    kept = head.removesuffix("…")
    boundaries = {m.end() for m in GRAPHEME.finditer(text)} | {0}
    # head + rest is the text itself: a prefix, then only the whitespace at the cut, then a suffix.
    assert text.startswith(kept) and text.endswith(rest)
    resumes = len(text) - len(rest)
    assert len(kept) <= resumes
    assert text[len(kept):resumes].strip() == ""  # nothing but whitespace is dropped, nothing altered
    assert text == kept + text[len(kept):resumes] + rest
    assert len(kept) in boundaries  # never inside an emoji sequence or a syllable with its marks
    assert resumes in boundaries  # and the rest starts at one too


@pytest.mark.parametrize(("text", "limit"), [("abcdefghij \u0301xyz", 12), ("abcdefgh\u0600 xyzzzzzzzz", 11)])
def test_cut_keeps_whitespace_that_belongs_to_a_grapheme(text: str, limit: int) -> None:
    head, rest = cut(text, limit)
    assert rest is not None
    boundaries = {m.end() for m in GRAPHEME.finditer(text)} | {0}
    assert len(head.removesuffix("…")) in boundaries and len(text) - len(rest) in boundaries


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


def assert_rendered_inert(card: Card, *, cleaned: bool = True) -> None:
    """Neither platform's rendering of `card` holds a live mention, link or tag, nor (when the card's text was
    cleaned first, as the features do with what people type) a control or bidi-override character."""
    rendered = slack_render(card)
    mrkdwn_texts = [rendered.text]
    for node in walk(rendered.blocks):
        if node.get("type") == "mrkdwn":
            mrkdwn_texts.append(node["text"])
    assert not any(SLACK_SEQUENCE.search(t) for t in mrkdwn_texts), mrkdwn_texts
    assert not (cleaned and any(CONTROL.search(t) for t in mrkdwn_texts))
    for teams_card in teams_render(card):
        body = json.dumps(teams_card, ensure_ascii=False)
        assert not re.search(r"<at\b", body, re.IGNORECASE)
        assert not TEAMS_TAG.search(teams_card["fallbackText"])  # plain text: tags matter, markdown does not
        assert not (cleaned and CONTROL.search(teams_card["fallbackText"]))
        texts: list[str] = []
        for node in walk(teams_card["body"]):
            if node.get("type") == "TextBlock":
                texts.append(node["text"])
            elif node.get("type") == "FactSet":
                texts += [part for fact in node["facts"] for part in (fact["title"], fact["value"])]
        assert not any(MARKDOWN_LINK.search(t) or TEAMS_TAG.search(t) for t in texts), texts
        assert not (cleaned and any(CONTROL.search(t) for t in texts))


def walk(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from walk(child)


@PROPERTY
@given(hostile)
def test_rendered_cards_carry_no_live_control_sequence(text: str) -> None:
    assert_rendered_inert(hostile_card(text), cleaned=False)
    assert_rendered_inert(hostile_card(clean(text)))


@PROPERTY
@given(hostile, hostile, hostile)
def test_inbound_translators_accept_or_refuse_cleanly(text: str, user: str, channel: str) -> None:
    try:
        event = slack.command_event({"command": "/pulse", "text": slack_escaped(text), "user_id": user,
                                     "channel_id": channel})
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
    consent = teams_files.consent_of({"type": "invoke", "name": teams_files.FILE_CONSENT, "value": {
        "action": text, "context": {"file": channel, "name": user}, "uploadInfo": {"uploadUrl": text, "name": user}}})
    assert consent is None if not channel else (consent is not None and consent.accepted == (text == "accept"))


# -- the inbound payload translators, field by field ----------------------------------------------------------
# Payloads go through JSON first, as they arrive (Slack's `payload=` form field, the Bot Framework's body). What
# people typed must reach the core exactly as typed (cleaning is the features' job), and whatever the features
# render back from it (quote cards, loop-closed notes, names) must stay inert on both platforms.

TRANSLATOR = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
person_id = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)


def slack_escaped(text: str) -> str:
    """Typed text as Slack sends it: `&`, `<` and `>` as entities (links and mentions aside)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def wire(payload: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(payload, ensure_ascii=False))
    return decoded


def assert_echo_inert(*texts: str) -> None:
    """What a feature shows of typed text: cleaned, on a quote card with a loop-closed note and an owner."""
    shown = [clean(t) for t in texts]
    view = FeedbackView(SimpleNamespace(id=7, source=shown[0] or "survey", text=shown[-1] or "-", score=3,
                                        score_type="csat", customer={"segment": shown[0]}, segment=shown[0],
                                        product_area=shown[-1], language=None, url=None),
                        counts={"insight": 2}, owner=shown[0] or "Ana", done_note=shown[-1], comments=1)
    assert_rendered_inert(feedback_card(view, Redactor()))
    assert_rendered_inert(hostile_card(" ".join(shown)))


@TRANSLATOR
@given(hostile, hostile, person_id, st.sampled_from(["fb:react:insight", "pulse:vote", "fb:claim"]),
       st.integers(min_value=0, max_value=30))
def test_slack_button_clicks_and_menus_carry_values_intact(value: str, other: str, user: str, action_id: str,
                                                           index: int) -> None:
    container = {"type": "message", "channel_id": "C024BE91L", "message_ts": "1700000000.000100"}
    actions = [
        {"type": "button", "action_id": encode_action_id(action_id, index), "value": value, "action_ts": "1.5"},
        {"type": "static_select", "action_id": encode_action_id(action_id, index + 1),
         "selected_option": {"text": {"type": "plain_text", "text": other}, "value": other}},
        {"type": "multi_static_select", "action_id": encode_action_id(action_id, index + 2),
         "selected_options": [{"value": value}, {"value": other}]},
        {"type": "plain_text_input", "action_id": encode_action_id(action_id, index + 3), "value": other},
        {"type": "button", "action_id": encode_action_id(action_id, index + 4, link=True), "url": "https://x"},
    ]
    body = wire({"type": "block_actions", "trigger_id": "13345224609.738474920.8088930838d88f008e0",
                 "user": {"id": user, "name": value}, "channel": {"id": "C024BE91L", "name": other},
                 "container": container, "message": {"ts": "1700000000.000100", "text": value}, "actions": actions})
    events = slack.action_events(body)
    assert [e.action_id for e in events] == [action_id] * 4  # the link button needs only the ack
    assert [e.value for e in events] == [value, other, (value, other), other]
    assert {e.actor.user_id for e in events} == {user}
    assert len({e.event_id for e in events}) == 4
    assert all(e.message == MessageRef("slack", "C024BE91L", "1700000000.000100") for e in events)
    assert_echo_inert(value, other)


@TRANSLATOR
@given(hostile)
def test_slack_action_ids_round_trip_whatever_they_hold(action_id: str) -> None:
    for index in (0, 7, 42):
        assert decode_action_id(encode_action_id(action_id, index)) == (action_id, False)
        assert decode_action_id(encode_action_id(action_id, index, link=True)) == (action_id, True)


@TRANSLATOR
@given(hostile, hostile, hostile, person_id)
def test_slack_form_submissions_carry_every_input_intact(note: str, choice: str, metadata: str, user: str) -> None:
    values = {
        "note": {"note#0": {"type": "plain_text_input", "value": note}},
        "title": {"title#1": {"type": "plain_text_input", "value": None}},
        "answer": {"answer#2": {"type": "static_select", "selected_option": {"value": choice}}},
        "audience": {"audience#3": {"type": "multi_static_select",
                                    "selected_options": [{"value": choice}, {"value": note}]}},
        "people": {"people#4": {"type": "multi_users_select", "selected_users": [user, "U2"]}},
    }
    body = wire({"type": "view_submission", "trigger_id": "t-1", "user": {"id": user, "name": note},
                 "view": {"id": "V1", "hash": "h1", "callback_id": f"fb-done:{note}", "private_metadata": metadata,
                          "state": {"values": values}}})
    event = slack.form_event(body)
    assert event.form_id == f"fb-done:{note}" and event.metadata == metadata and event.actor.user_id == user
    assert event.values == {"note": note, "title": "", "answer": choice, "audience": (choice, note),
                            "people": (user, "U2")}
    assert_echo_inert(note, choice)


@TRANSLATOR
@given(st.one_of(hostile, st.sampled_from(["+1", "thumbsup::skin-tone-2", "flag-ua", "heart_eyes", "-1"])),
       person_id, st.booleans())
def test_slack_reactions_carry_the_emoji_name_intact(name: str, user: str, added: bool) -> None:
    body = wire({"type": "event_callback", "event_id": "Ev1", "event": {
        "type": "reaction_added" if added else "reaction_removed", "user": user, "reaction": name,
        "item": {"type": "message", "channel": "C1", "ts": "1700000000.000100"}, "event_ts": "1.2"}})
    event = slack.reaction_event(body)
    assert event is not None
    assert (event.emoji, event.added, event.actor.user_id) == (name, added, user)
    assert event.message == MessageRef("slack", "C1", "1700000000.000100")
    file_reaction = wire({"event_id": "Ev2", "event": {"type": "reaction_added", "user": user, "reaction": name,
                                                       "item": {"type": "file", "file": "F1"}}})
    assert slack.reaction_event(file_reaction) is None
    assert_echo_inert(name)


@TRANSLATOR
@given(hostile, person_id, st.sampled_from([None, "thread_broadcast", "file_share"]))
def test_slack_thread_replies_carry_the_text_intact(text: str, user: str, subtype: str | None) -> None:
    event = {"type": "message", "user": user, "channel": "C1", "ts": "1700000001.000200",
             "thread_ts": "1700000000.000100", "text": slack_escaped(text), **({"subtype": subtype} if subtype else {})}
    translated = slack.message_event(wire({"event_id": "Ev3", "event": event}), bot_user_id="UBOT")
    assert translated is not None and translated.text == text
    assert translated.thread_id == "1700000000.000100" and translated.actor.user_id == user
    for ignored in ({"thread_ts": None}, {"subtype": "message_changed"}, {"bot_id": "B1"}, {"user": "UBOT"}):
        assert slack.message_event(wire({"event_id": "Ev4", "event": {**event, **ignored}}), "UBOT") is None
    assert_echo_inert(text)


def teams_activity(kind: str, value: dict[str, Any], display: str, **extra: Any) -> dict[str, Any]:
    return wire({"type": kind, "id": "f:1700000000123", "timestamp": "2026-03-02T10:00:00Z",
                 "from": {"id": "29:1a2b", "name": display, "aadObjectId": "00000000-0000-0000-0000-000000000001"},
                 "conversation": {"id": "19:abc@thread.tacv2;messageid=1700000000000", "conversationType": "channel"},
                 "recipient": {"id": "28:bot"}, "replyToId": "1700000000001", "channelId": "msteams",
                 "serviceUrl": "https://smba.trafficmanager.net/emea/", "value": value, **extra})


def teams_submissions(data: dict[str, Any], name: str) -> list[teams.AnyEvent]:
    """The same card data sent back both ways: Action.Execute (an invoke) and Action.Submit (a message)."""
    invoke = teams_activity("invoke", {"action": {"type": "Action.Execute", "verb": data.get("action_id", "submit"),
                                                  "data": data}}, name, name="adaptiveCard/action")
    submit = teams_activity("message", data, name)
    return [*teams.events(invoke, {"pulse"}), *teams.events(submit, {"pulse"})]


@TRANSLATOR
@given(hostile, hostile, st.sampled_from(["fb:react:insight", "pulse:vote", "fb:claim"]))
def test_teams_card_buttons_and_choices_carry_values_intact(value: str, name: str, action_id: str) -> None:
    for data, expected in (({"action_id": action_id, "value": value}, value),
                           ({"action_id": action_id, "multi": False, CHOICE_PREFIX + action_id: value}, value)):
        events = teams_submissions(data, name)
        assert len(events) == 2
        for event in events:
            assert isinstance(event, ActionEvent)
            assert (event.action_id, event.value, event.actor.name) == (action_id, expected, name or None)
            assert event.channel_id == "19:abc@thread.tacv2"
            assert event.message == MessageRef("teams", "19:abc@thread.tacv2", "1700000000001")
    assert_echo_inert(value, name)


@TRANSLATOR
@given(hostile, hostile, hostile)
def test_teams_form_submissions_carry_every_input_intact(note: str, metadata: str, name: str) -> None:
    data = {"form_id": "fb-done:7", "metadata": metadata, "form_title": name, INPUT_PREFIX + "note": note,
            INPUT_PREFIX + "title": "", "verb": "fb-done:7", MULTI_KEY: []}
    events = teams_submissions(data, name)
    assert len(events) == 2
    for event in events:
        assert isinstance(event, FormSubmitted)
        assert (event.form_id, event.metadata, event.values) == ("fb-done:7", metadata, {"note": note, "title": ""})
    assert_echo_inert(note, name)


@pytest.mark.parametrize("note", ["Refunded the order, fixed the bug", "a,,b", "Застосунок, їжак"])
def test_teams_form_text_with_commas_arrives_as_typed(note: str) -> None:
    for event in teams_submissions({"form_id": "fb-done:7", INPUT_PREFIX + "note": note, MULTI_KEY: []}, "Ana"):
        assert isinstance(event, FormSubmitted) and event.values["note"] == note


def test_teams_multi_select_answers_arrive_as_lists_and_text_beside_them_keeps_its_commas() -> None:
    from adapters.teams.render import render_form
    from bot.cards import Form, Input, Option

    form = Form(form_id="pulse-answer:1:2", title="Your answer", submit_label="Send", metadata="m", inputs=(
        Input("picks", "Pick", kind="multiselect", options=(Option("A, the first", "a"), Option("B", "b"))),
        Input("comment", "Comment", kind="textarea")))
    submit = next(b for b in render_form(form)["body"] if b["type"] == "ActionSet")["actions"][0]
    data = {**submit["data"], INPUT_PREFIX + "picks": "a,b", INPUT_PREFIX + "comment": "Slow, but friendly"}
    for event in teams_submissions(data, "Ana"):
        assert isinstance(event, FormSubmitted)
        assert event.values == {"picks": ("a", "b"), "comment": "Slow, but friendly"}
