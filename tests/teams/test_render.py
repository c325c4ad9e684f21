"""Neutral cards as Adaptive Cards: structure, escaping over many scripts, size limit, images, forms."""

from __future__ import annotations

import io
import json
import random

import pytest
import regex

from adapters.teams.escape import WORD_JOINER, cut, escape_markdown
from adapters.teams.render import (
    CONTINUED,
    MESSAGE_BUDGET,
    json_size,
    render_card,
    render_form,
)
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

SAMPLES = {
    "thai": "บริการดีมาก แต่การจัดส่งช้าไปหน่อย ครับ",
    "persian": "پشتیبانی عالی بود، ولی قیمت‌ها بالا رفته است.",
    "arabic": "الخدمة ممتازة لكن التوصيل تأخر ثلاثة أيام",
    "russian": "Поддержка ответила быстро, спасибо!",
    "ukrainian": "Підтримка відповіла швидко, дякую! Ґанок, їжак, є.",
    "japanese": "配送がとても早くて助かりました。ありがとう！",
    "emoji": "Love it 👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽 🇧🇷",
}


def texts(card: dict) -> list[str]:
    """Every TextBlock text in a card, depth first."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card["body"])
    return found


def unescape(text: str) -> str:
    """What a CommonMark reader shows for our escaped text (backslash escapes, paragraph breaks, joiners)."""
    return regex.sub(r"\\(.)", r"\1", text).replace("\n\n", "\n").replace(WORD_JOINER, "")


def test_blocks_become_their_adaptive_card_elements() -> None:
    card = Card("New feedback", (
        Heading("NPS 3 from Acme"), Quote("Slow delivery"), Fields((Field("Plan", "Pro"),)), Divider(),
        Context(("via Zendesk", "2 min ago")),
        Buttons((Button("claim:1", "I'll follow up", "1", style="primary"), Button("open", "Open", url="https://x.io"))),
        Choices("topic:1", (Option("Pricing", "pricing"), Option("Onboarding", "onboarding")), multi=True),
    ))
    (rendered,) = render_card(card)
    assert rendered["type"] == "AdaptiveCard" and rendered["version"] == "1.5"
    heading, quote, facts, context, buttons, choice, send = rendered["body"]
    assert heading["weight"] == "Bolder" and heading["wrap"] is True
    assert quote["type"] == "Container" and quote["style"] == "emphasis"
    assert facts["facts"] == [{"title": "Plan", "value": "Pro"}]
    assert context["isSubtle"] and context["size"] == "Small" and context["separator"] is True
    execute, open_url = buttons["actions"]
    assert execute["type"] == "Action.Execute" and execute["verb"] == "claim:1" and execute["style"] == "positive"
    assert execute["data"] == {"action_id": "claim:1", "value": "1"}
    assert execute["fallback"] == {"type": "Action.Submit", "title": "I'll follow up", "data": execute["data"]}
    assert open_url == {"type": "Action.OpenUrl", "title": "Open", "url": "https://x.io"}
    assert choice["type"] == "Input.ChoiceSet" and choice["id"] == "choice:topic:1" and choice["isMultiSelect"]
    assert send["actions"][0]["data"] == {"action_id": "topic:1", "multi": True}


def test_quote_more_is_one_click_away() -> None:
    (rendered,) = render_card(Card("q", (Quote("The start…", more="…and the rest of it."),)))
    container = rendered["body"][0]
    _, hidden, actions = container["items"]
    assert hidden["isVisible"] is False and unescape(hidden["text"]) == "…and the rest of it."
    assert actions["actions"][0] == {"type": "Action.ToggleVisibility", "title": "Show more",
                                     "targetElements": [hidden["id"]]}


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_every_script_survives_unchanged(script: str) -> None:
    text = SAMPLES[script]
    (rendered,) = render_card(Card(text, (Quote(text), Text(text))))
    assert texts(rendered) == [text, text]  # nothing in these needs escaping: byte for byte the same


@pytest.mark.parametrize("hostile, forbidden", [
    ("<at>Ana Souza</at> look at this", "<at>"),
    ("hi <AT>everyone</at>", "<AT>"),
    ("<script>alert(1)</script><b>bold</b>", "<script>"),
    ("[click here](https://evil.example/login)", "](https://"),
    ("**urgent** _now_", "**urgent**"),
    ("<https://evil.example>", "<https://"),
    ("visit https://evil.example today", "https://evil"),
    ("- not a list\n1. not numbered", "\n1. "),
    ("refund by {{DATE(2020-01-01T00:00:00Z, SHORT)}} {{TIME(2020-01-01T00:00:00Z)}}", "{{"),  # Teams evaluates
    ("{{{DATE(2020-01-01T00:00:00Z)}}}", "{{"),
])
def test_customer_text_never_becomes_markup_mentions_or_links(hostile: str, forbidden: str) -> None:
    (rendered,) = render_card(Card(hostile, (Quote(f"{SAMPLES['arabic']} {hostile} {SAMPLES['thai']}"),)))
    (shown,) = texts(rendered)
    assert forbidden not in shown
    assert unescape(shown) == f"{SAMPLES['arabic']} {hostile} {SAMPLES['thai']}"
    assert "<at>" not in rendered["fallbackText"].lower() and "{{" not in rendered["fallbackText"]


def test_line_breaks_survive_markdown() -> None:
    assert escape_markdown("one\ntwo") == "one\n\ntwo"


def test_cut_never_splits_a_grapheme() -> None:
    family = "👩‍👩‍👧‍👦"
    text = "ab" + family * 5
    for limit in range(1, len(text)):
        head, rest = cut(text, limit)
        assert head + rest == text
        assert regex.findall(r"\X", head) + regex.findall(r"\X", rest) == regex.findall(r"\X", text)
    thai = "น้ำใจ" * 10  # stacked vowels and tone marks belong to their consonant
    head, rest = cut(thai, 7)
    assert head + rest == thai and regex.match(r"\X", rest).group() in ("น้ำ", "ใ", "จ")


@pytest.mark.parametrize("script", sorted(SAMPLES))
def test_a_huge_card_is_cut_under_the_limit_and_the_rest_follows(script: str) -> None:
    rng = random.Random(script)
    words = SAMPLES[script].split(" ")
    long = " ".join(rng.choice(words) for _ in range(6_000)) + " [x](https://evil.example) <at>Ana</at>"
    cards = render_card(Card("long", (Heading("Feedback"), Quote(long), Context(("via survey",)))))
    assert len(cards) >= 2
    for rendered in cards:
        assert json_size(rendered) <= MESSAGE_BUDGET
        assert len(json.dumps(rendered, ensure_ascii=False).encode()) <= 28_000
    first = texts(cards[0])
    assert first[0] == "Feedback" and first[-1] == unescape(CONTINUED) and first[-2] == "via survey"
    shown = unescape(first[1]).removesuffix(" …")
    rest = "".join(unescape(t) for c in cards[1:] for t in texts(c))
    assert (shown + " " + rest).replace("  ", " ") == long or shown + rest == long
    assert all("<at>" not in t for c in cards for t in texts(c))


def test_a_chart_is_inlined_and_shrunk_to_fit_or_left_as_alt_text() -> None:
    from PIL import Image as PILImage

    def png(size: int, noisy: bool) -> bytes:
        image = PILImage.new("RGB", (size, size), "white")
        if noisy:
            image.putdata([tuple(random.Random(i).randrange(256) for _ in range(3)) for i in range(size * size)])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    small, noisy = png(120, False), png(400, True)
    assert len(noisy) > MESSAGE_BUDGET
    card = Card("digest", (Heading("Weekly digest"), Image("chart:1", "NPS by week"), Image("chart:2", "Scores")))
    (rendered,) = render_card(card, {"chart:1": small, "chart:2": noisy})
    _, first, second = rendered["body"]
    assert first["type"] == "Image" and first["url"].startswith("data:image/png;base64,")
    assert first["altText"] == "NPS by week"
    assert json_size(rendered) <= MESSAGE_BUDGET
    if second["type"] == "Image":  # shrunk to fit what was left
        assert second["url"].startswith("data:image/png;base64,")
    else:
        assert second["type"] == "TextBlock" and "Scores" in second["text"]
    (missing,) = render_card(Card("d", (Image("chart:9", "Gone"),)))
    assert missing["body"][0]["type"] == "TextBlock" and "Gone" in missing["body"][0]["text"]


def test_a_form_is_a_card_of_inputs_that_reports_errors() -> None:
    form = Form("pulse-new", "New pulse", (
        Input("question", "Question", placeholder="Ask something"),
        Input("details", "Details", kind="textarea", required=False, hint="Optional"),
        Input("scale", "Scale", kind="select", options=(Option("1–5", "1-5"), Option("Yes/No", "yn")), initial="1-5"),
        Input("audience", "Audience", kind="multiselect", options=(Option("Team", "team"),), initial=("team",)),
        Input("days", "Days open", kind="number"),
    ), submit_label="Launch", metadata="C1")
    card = render_form(form, {"question": "Ask a question", "_": "Try again"})
    body = card["body"]
    inputs = {e["id"]: e for e in body if e["type"].startswith("Input.")}
    assert list(inputs) == ["input:question", "input:details", "input:scale", "input:audience", "input:days"]
    assert inputs["input:details"]["isMultiline"] and not inputs["input:details"]["isRequired"]
    assert inputs["input:scale"]["value"] == "1-5" and inputs["input:audience"]["isMultiSelect"]
    assert inputs["input:days"]["type"] == "Input.Number"
    shown = texts(card)
    assert any("Ask a question" in t and "Try again" in t for t in shown)
    submit = body[-1]["actions"][0]
    assert submit["type"] == "Action.Execute" and submit["title"] == "Launch"
    assert submit["data"] == {"form_id": "pulse-new", "metadata": "C1", "form_title": "New pulse",
                              "multi_inputs": ["audience"]}


def test_the_quote_card_keeps_every_button_in_sets_teams_shows_whole() -> None:
    from bot.feedback.card import FeedbackView, feedback_card
    from bot.feedback.redact import Redactor
    from storage.tables import Feedback

    item = Feedback(id=7, source="g2", external_id="x", text="Оплата не проходит", score=2, score_type="nps",
                    url="https://g2.example/r/1", segment="enterprise", customer={"plan": "pro"})
    neutral = feedback_card(FeedbackView(item), Redactor())
    labels = [b.label for b in next(b for b in neutral.blocks if b.type == "buttons").buttons]  # type: ignore
    (card,) = render_card(neutral)
    sets = [e for e in card["body"] if e.get("type") == "ActionSet"]
    assert all(len(s["actions"]) <= 6 for s in sets)  # Teams hides actions past six in one set
    assert [a["title"] for s in sets for a in s["actions"]] == labels and len(labels) == 7
    assert any("enterprise" in t and "pro plan" in t for t in texts(card))  # segment and plan on the card


def test_a_file_names_the_consent_card_that_follows_or_says_where_to_get_it() -> None:
    from bot.cards import File

    card = Card("CSV", (Heading("CSV: Pulse"), File("file:abc", "pulse-3-run-4.csv",
                                                    elsewhere="`earshot pulse-export 3` writes it.")))
    (offered,) = render_card(card, offered={"file:abc"})
    assert "pulse-3-run-4.csv: choose Allow on the file card below" in " ".join(texts(offered))
    (elsewhere,) = render_card(card)  # in a channel, or the file is gone
    shown = " ".join(texts(elsewhere))
    assert "can't be sent here" in shown and "earshot pulse-export 3" in shown
