"""The quote card: a customer's words, its score cue, context, and the buttons employees react with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.cards import Block, Button, Buttons, Card, Context, Quote, Text
from bot.feedback.languages import language_tag
from bot.feedback.redact import Redactor
from bot.text import cut

QUOTE_LIMIT = 700
"""Characters shown before “show more”: well inside Slack's 3,000 per section and Teams' card size."""

REACTIONS = {  # action suffix → label; the order is the buttons' order
    "insight": "💡 Insight",
    "moved": "❤️ Moved me",
    "fixable": "🛠 We can fix this",
    "urgent": "🔥 Urgent",
}


class QuoteSource(Protocol):
    """What a quote card reads of an item: a stored Feedback row, or one just ingested."""

    id: int | None
    source: str
    text: str
    score: float | None
    score_type: str | None
    customer: dict[str, Any] | None
    segment: str | None
    product_area: str | None
    language: str | None
    url: str | None


@dataclass
class FeedbackView:
    """One item with what employees did about it, as the card shows it."""

    feedback: QuoteSource
    counts: dict[str, int] = field(default_factory=dict)
    owner: str | None = None
    done_note: str | None = None
    comments: int = 0


def score_cue(item: QuoteSource) -> str | None:
    if item.score is None:
        return None
    score = item.score
    match item.score_type:
        case "nps":
            mood, word = ("😞", "detractor") if score <= 6 else ("😐", "passive") if score <= 8 else ("😀", "promoter")
            return f"{mood} NPS {score:g} · {word}"
        case "csat":
            mood = "😞" if score <= 2 else "😐" if score < 4 else "😀"
            return f"{mood} CSAT {score:g}/5"
        case "ces":
            mood = "😀" if score >= 5 else "😐" if score >= 3 else "😞"
            return f"{mood} effort {score:g}/7"
        case _:
            stars = round(score)
            return "★" * stars + "☆" * (5 - stars) + f" {score:g}/5"


def feedback_card(view: FeedbackView, redact: Redactor) -> Card:
    item = view.feedback
    redacted = redact(item.text)
    text, more = cut(redacted, QUOTE_LIMIT)
    customer = item.customer or {}
    facts = [score_cue(item), item.source, item.segment or customer.get("segment"),
             customer.get("plan") and f"{customer['plan']} plan", item.product_area, item.language]
    header = tuple(f for f in facts if f)
    blocks: list[Block] = [Context(header)] if header else []
    if text:  # a score given without a comment has no words to quote: the score cue above says it all
        blocks.append(Quote(text, more, language_tag(item.language)))
    buttons = [Button(f"fb:react:{key}", _count_label(label, view.counts.get(key, 0)), str(item.id))
               for key, label in REACTIONS.items()]
    if view.owner is None:
        buttons.append(Button("fb:claim", "🙋 I'll follow up", str(item.id), style="primary"))
    elif view.done_note is None:
        buttons.append(Button("fb:done", "✅ Mark done", str(item.id)))
    buttons.append(Button("fb:discuss", "💬 Discuss", str(item.id)))
    if item.url:
        buttons.append(Button("fb:open", "🔗 Original", str(item.id), url=item.url))
    blocks.append(Buttons(tuple(buttons)))
    status = []
    if view.owner is not None:
        status.append(f"🙋 {view.owner} follows up")
    if view.comments:
        status.append(f"💬 {view.comments} {'reply' if view.comments == 1 else 'replies'} in thread")
    if status:
        blocks.append(Context(tuple(status)))
    if view.done_note is not None:
        blocks.append(Text(f"✅ Loop closed by {view.owner}: {view.done_note}"))
    cue = score_cue(item)
    words = f"“{cut(redacted, 140)[0]}” " if redacted else "no comment "
    fallback = f"{cue + ' — ' if cue else ''}{words}({item.source})"
    return Card(fallback=fallback, blocks=tuple(blocks))


def _count_label(label: str, count: int) -> str:
    return f"{label} · {count}" if count else label
