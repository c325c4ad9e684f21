"""Neutral cards and forms → Block Kit: escaping, every script intact, Slack's limits, unique action ids."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import regex

from adapters.slack.blocks import (
    HOME_MAX_BLOCKS,
    MAX_BLOCKS,
    PAYLOAD_BUDGET,
    SECTION_LIMIT,
    decode_action_id,
    render_card,
)
from adapters.slack.forms import error_answer, render_modal
from adapters.slack.text import ZWSP, cut_plain
from bot.cards import (
    Button,
    Buttons,
    Card,
    Choices,
    Context,
    Divider,
    Field,
    Fields,
    Form,
    Heading,
    Image,
    Input,
    Option,
    Quote,
    Text,
)

SCRIPTS = {
    "thai": "บริการดีมาก แต่การจัดส่งช้าไปหน่อย ขอบคุณค่ะ",
    "persian": "پشتیبانی عالی بود، اما قیمت‌ها کمی بالاست.",
    "arabic": "الخدمة ممتازة ولكن التطبيق يتعطل أحيانًا عند الدفع.",
    "russian": "Приложение удобное, но уведомления приходят с опозданием.",
    "ukrainian": "Застосунок зручний, але сповіщення приходять із запізненням. Ґанок, їжак, є.",
    "japanese": "サポートの対応がとても早くて助かりました。ありがとうございます！",
    "emoji_zwj": "Family trip 👨‍👩‍👧‍👦 went great 🏳️‍🌈 👩🏽‍💻 🧑‍🤝‍🧑 ❤️‍🔥",
}
HOSTILE = "<!channel> <!here> <@U024BE7LH> <#C123|general> <https://evil.example|click me> " \
          "<script>alert(1)</script> & [docs](https://x.example) *bold* _it_ ~gone~ `code` ```block```"


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn string in the blocks."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def visible(text: str) -> str:
    """What a reader sees: entities decoded, zero-width spaces gone."""
    return text.replace(ZWSP, "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def size(blocks: list[dict[str, Any]]) -> int:
    return len(json.dumps(blocks, ensure_ascii=False))


@pytest.mark.parametrize("block", [Text(HOSTILE), Quote(HOSTILE), Context((HOSTILE,)),
                                   Fields((Field(HOSTILE, HOSTILE),))])
def test_customer_text_never_pings_links_or_formats(block: Any) -> None:
    rendered = render_card(Card(fallback=HOSTILE, blocks=(block,)))
    texts = [*mrkdwn_texts(rendered.blocks), rendered.text]
    for text in texts:
        body = text.removeprefix("> ") if isinstance(block, Quote) else text
        assert "<" not in body and ">" not in body.replace("\n> ", "")  # no <!channel>, <@U…>, <url|…>
        assert "&lt;!channel&gt;" in text and "&lt;@U024BE7LH&gt;" in text and "&amp;" in text
        assert re.search(r"(?<![\u200b\w])\*\w", text) is None  # no *opening bold
        assert re.search(r"(?<![\u200b\w])[_~`]\w", text) is None
    for node in rendered.blocks:
        for element in node.get("elements", []) + node.get("fields", []) + [node.get("text", {})]:
            if element.get("type") == "mrkdwn":
                assert element["verbatim"] is True  # no auto-linking of URLs, #channels, @here


def test_marks_inside_words_are_left_alone() -> None:
    (section,) = render_card(Card("x", (Text("snake_case file*name 2*3 and *loud*"),))).blocks
    assert section["text"]["text"].startswith("snake_case file*name 2*3 and ")
    assert f"{ZWSP}*{ZWSP}loud{ZWSP}*{ZWSP}" in section["text"]["text"]


def test_a_line_starting_with_a_quote_mark_does_not_become_a_quote() -> None:
    (section,) = render_card(Card("x", (Text("first\n> not a quote"),))).blocks
    assert section["text"]["text"] == f"first\n{ZWSP}&gt; not a quote"


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_script_survives_intact(script: str) -> None:
    text = SCRIPTS[script]
    rendered = render_card(Card(fallback=text, blocks=(Heading(text), Text(text), Quote(text), Context((text,)))))
    header, section, quote, context = rendered.blocks
    assert header["text"]["text"] == text
    assert visible(section["text"]["text"]) == text
    assert visible(quote["text"]["text"]) == f"> {text}"
    assert visible(context["elements"][0]["text"]) == text
    assert visible(rendered.text) == text


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_long_text_is_cut_at_grapheme_boundaries_within_limits(script: str) -> None:
    unit = SCRIPTS[script] + " "
    text = unit * (12_000 // len(unit) + 1)
    rendered = render_card(Card(fallback=text, blocks=(Text(text), Quote(text))))
    assert size(rendered.blocks) <= PAYLOAD_BUDGET
    allowed = set(regex.findall(r"\X", unit)) | {"…", "\n", "> ", " "}
    for text_out in mrkdwn_texts(rendered.blocks):
        assert len(text_out) <= SECTION_LIMIT
        cleaned = visible(text_out).replace("\n> ", "\n").removeprefix("> ")
        assert set(regex.findall(r"\X", cleaned)) <= allowed  # no grapheme was split in two
    assert len(visible(rendered.text)) <= 3_000 and rendered.text.endswith("…")


def test_a_long_quote_continues_in_several_quoted_sections() -> None:
    text = "\n".join(f"line {n}: " + "слово " * 40 for n in range(30))
    rendered = render_card(Card("q", (Quote(text[:2000], more=text[2000:]),)))
    sections = [b["text"]["text"] for b in rendered.blocks]
    assert len(sections) >= 3
    for section in sections:
        assert len(section) <= SECTION_LIMIT
        assert all(line.startswith("> ") for line in section.split("\n")), section[:80]
    shown = "".join(line.removeprefix("> ") for s in sections for line in s.split("\n"))
    assert shown.split() == text.split()  # nothing lost or doubled across the sections


def test_a_cut_quote_is_shown_whole_with_no_ellipsis_at_the_cut() -> None:
    from bot.text import cut

    text = "The refund took three weeks and nobody answered my emails. " * 30 + "Please fix this, thank you."
    head, rest = cut(text, 500)
    rendered = render_card(Card("q", (Quote(head, more=rest),)))
    shown = "\n".join(line.removeprefix("> ") for b in rendered.blocks for line in b["text"]["text"].split("\n"))
    assert shown == text  # one piece, the space at the cut kept, no "…" inside


def test_buttons_survive_when_text_overflows_the_budget() -> None:
    buttons = Buttons(tuple(Button(f"vote:{n}", f"Option {n}", value=str(n)) for n in range(5)))
    rendered = render_card(Card("poll", (Heading("Poll"), Text("x " * 20_000), Text("more " * 3_000), buttons)))
    assert size(rendered.blocks) <= PAYLOAD_BUDGET
    assert rendered.blocks[-1]["type"] == "actions"
    texts = [b["text"]["text"] for b in rendered.blocks if b["type"] == "section"]
    assert texts[-1].endswith("…") and not any("more" in t for t in texts)  # the second text had no room left


def test_over_the_block_count_text_is_merged_and_the_buttons_stay() -> None:
    buttons = Buttons((Button("vote:1", "Yes", "yes"), Button("vote:1", "No", "no")))
    card = Card("many", (Heading("Poll"), *(Text(f"item {n}") for n in range(60)), buttons))
    blocks = render_card(card).blocks
    assert len(blocks) <= MAX_BLOCKS
    assert blocks[0]["type"] == "header" and blocks[-1]["type"] == "actions"
    assert [e["value"] for e in blocks[-1]["elements"]] == ["yes", "no"]
    shown = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert shown.split("\n") == [f"item {n}" for n in range(60)]  # merged, nothing lost
    home = render_card(Card("many", tuple(Text(f"item {n}") for n in range(80))), max_blocks=HOME_MAX_BLOCKS)
    assert len(home.blocks) == 80  # under the Home tab's limit nothing changes


def test_over_the_block_count_dividers_then_images_and_context_then_text_give_way() -> None:
    buttons = Buttons(tuple(Button("b", f"B{n}", str(n)) for n in range(30)))
    rows = [block for n in range(40) for block in (Text(f"row {n}"), Image(f"https://example.com/{n}.png", "pic"))]
    card = Card("many", (Heading("Digest"), Context(("cue",)), *rows, *(Divider() for _ in range(5)), buttons))
    blocks = render_card(card).blocks
    kinds = [b["type"] for b in blocks]
    assert len(blocks) == MAX_BLOCKS and size(blocks) <= PAYLOAD_BUDGET
    assert kinds[:2] == ["header", "context"] and kinds[-3:] == ["actions", "actions", "context"]
    assert [len(b["elements"]) for b in blocks if b["type"] == "actions"] == [25, 5]
    assert "divider" not in kinds and kinds.count("image") == 5 and kinds.count("section") == 40
    assert blocks[-1]["elements"][0]["text"] == "… more in Earshot"
    table = Card("table", (Heading("Table"), *(Fields((Field(f"k{n}", "v"),)) for n in range(60)), buttons))
    kinds = [b["type"] for b in render_card(table).blocks]
    assert kinds == ["header", *["section"] * 46, "actions", "actions", "context"]


def test_buttons_and_images_count_against_the_size_budget() -> None:
    pictures = tuple(Image(f"https://example.com/{'p' * 900}/{n}.png", "a chart " * 50) for n in range(30))
    buttons = Buttons(tuple(Button("vote:1", f"Option {n} " + "label" * 20, "v" * 150) for n in range(25)))
    blocks = render_card(Card("big", (Heading("Big"), Text("words " * 400), *pictures, buttons))).blocks
    assert size(blocks) <= PAYLOAD_BUDGET
    assert blocks[0]["type"] == "header" and len(blocks[-1]["elements"]) == 25
    assert 0 < sum(b["type"] == "image" for b in blocks) < 30  # the images that fit, in order
    too_many = Buttons(tuple(Button("vote:1", "long " * 20, "v" * 2_000) for n in range(75)))
    with pytest.raises(ValueError, match="message size"):  # was rendered, to 164k characters Slack refuses
        render_card(Card("huge", (Heading("Huge"), too_many)))


def test_action_ids_are_unique_in_a_message_and_decode_back() -> None:
    card = Card("vote", (
        Buttons((Button("vote:12", "Good", "good", style="primary"), Button("vote:12", "Bad", "bad", style="danger"),
                 Button("open", "Open", url="https://example.com/t/1"))),
        Choices("vote:12", (Option("A", "a"), Option("B", "b")), multi=True, placeholder="Pick"),
        Choices("scale", (Option("1", "1"),)),
    ))
    blocks = render_card(card).blocks
    elements = [e for b in blocks for e in b["elements"]]
    ids = [e["action_id"] for e in elements]
    assert len(set(ids)) == len(ids)
    assert [decode_action_id(i) for i in ids] == [("vote:12", False), ("vote:12", False), ("open", True),
                                                  ("vote:12", False), ("scale", False)]
    good, bad, link, multi, single = elements
    assert (good["style"], bad["style"], good["value"]) == ("primary", "danger", "good")
    assert link["url"] == "https://example.com/t/1" and "value" not in link and "style" not in link
    assert multi["type"] == "multi_static_select" and multi["placeholder"]["text"] == "Pick"
    assert single["type"] == "static_select" and single["options"] == [
        {"text": {"type": "plain_text", "text": "1", "emoji": True}, "value": "1"}]
    assert decode_action_id("plain") == ("plain", False) and decode_action_id("x#5#0") == ("x#5", False)


def test_more_than_25_buttons_and_10_fields_are_split() -> None:
    card = Card("x", (Buttons(tuple(Button("b", str(n)) for n in range(30))),
                      Fields(tuple(Field(f"L{n}", f"v{n}") for n in range(12)))))
    blocks = render_card(card).blocks
    assert [len(b.get("elements", b.get("fields", []))) for b in blocks] == [25, 5, 10, 2]
    assert blocks[2]["fields"][0]["text"] == "*L0*\nv0"


def test_what_slack_cannot_show_is_refused() -> None:
    with pytest.raises(ValueError, match="options"):
        render_card(Card("x", (Choices("c", tuple(Option(str(n), str(n)) for n in range(101))),)))
    with pytest.raises(ValueError, match="button value"):
        render_card(Card("x", (Buttons((Button("b", "B", value="v" * 2001),)),)))


def test_images_dividers_headers_and_charts() -> None:
    heading = "Weekly digest — " + "🏳️‍🌈" * 60
    card = Card("digest", (Heading(heading), Image("https://example.com/a.png", ""), Divider(),
                           Image("chart:abc123", "NPS by week")))
    rendered = render_card(card)
    header, image, divider = rendered.blocks
    assert header["text"]["text"] == cut_plain(heading, 150) and len(header["text"]["text"]) <= 150
    assert header["text"]["text"].endswith("…") and "\u200d…" not in header["text"]["text"]
    assert image == {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "image"}
    assert divider == {"type": "divider"}
    assert rendered.charts == (Image("chart:abc123", "NPS by week"),)


def test_an_empty_card_still_has_fallback_text() -> None:
    assert render_card(Card("", ())) == render_card(Card("  ", (Text(""),)))
    assert render_card(Card("", ())).text == "Earshot"


# -- forms ---------------------------------------------------------------------------------------------
FORM = Form(
    form_id="pulse:create", title="Launch a new pulse check now", submit_label="Launch", metadata='{"c":"C1"}',
    inputs=(
        Input("question", "Question", placeholder="How was this sprint?", hint="Keep it short"),
        Input("note", "Note", kind="textarea", required=False, initial="—"),
        Input("kind", "Answers", kind="select", options=(Option("Yes/No", "yesno"), Option("1–5", "scale")),
              initial="scale"),
        Input("teams", "Teams", kind="multiselect", options=(Option("Support", "s"), Option("Product", "p")),
              initial=("p",), required=False),
        Input("days", "Close after (days)", kind="number", initial="3"),
    ),
)


def test_a_form_becomes_a_modal() -> None:
    view = render_modal(FORM)
    assert (view["type"], view["callback_id"], view["private_metadata"]) == ("modal", "pulse:create", '{"c":"C1"}')
    assert len(view["title"]["text"]) <= 24 and view["submit"]["text"] == "Launch"
    question, note, kind, teams, days = view["blocks"]
    assert [b["block_id"] for b in view["blocks"]] == ["question", "note", "kind", "teams", "days"]
    assert all(b["element"]["action_id"] == b["block_id"] for b in view["blocks"])
    assert question["element"]["type"] == "plain_text_input" and not question["element"]["multiline"]
    assert question["hint"]["text"] == "Keep it short" and question["optional"] is False
    assert note["element"]["multiline"] and note["element"]["initial_value"] == "—" and note["optional"] is True
    assert kind["element"]["initial_option"] == {"text": {"type": "plain_text", "text": "1–5", "emoji": True},
                                                 "value": "scale"}
    assert [o["value"] for o in teams["element"]["initial_options"]] == ["p"]
    assert days["element"] == {"action_id": "days", "type": "number_input", "is_decimal_allowed": False,
                               "initial_value": "3"}


def test_form_errors_go_under_their_fields() -> None:
    blocks = render_modal(FORM)["blocks"]
    assert error_answer({"question": "Ask something", "_": "This form has expired"}, blocks) == {
        "response_action": "errors",
        "errors": {"question": "Ask something This form has expired"},
    }
    assert error_answer({"days": "Whole days only"}, blocks) == {"response_action": "errors",
                                                                 "errors": {"days": "Whole days only"}}
    assert error_answer({"_": "x"}, []) is None


def test_oversized_form_metadata_is_refused() -> None:
    with pytest.raises(ValueError, match="metadata"):
        render_modal(Form("f", "T", (), metadata="x" * 3_001))


def test_a_people_input_is_slacks_user_picker() -> None:
    from bot.pulses.form import creation_form

    blocks = {b["block_id"]: b for b in render_modal(creation_form("C1", "UTC"))["blocks"]}
    assert blocks["people"]["element"]["type"] == "multi_users_select" and blocks["people"]["optional"]
