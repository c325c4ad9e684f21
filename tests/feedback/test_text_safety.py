"""Customer text: redaction and cutting across scripts; the quote card keeps every script intact."""

from __future__ import annotations

import pytest

from bot.feedback.card import FeedbackView, feedback_card
from bot.feedback.redact import Redactor, luhn_ok
from bot.text import clean, cut
from storage.tables import Feedback

redact = Redactor(["ORD-\\d{6}"])


@pytest.mark.parametrize("text, expected", [
    ("mail jöns.ok+1@example.co.uk now", "mail [email] now"),
    ("ติดต่อ somchai@example.co.th ได้ครับ", "ติดต่อ [email] ได้ครับ"),
    ("call +44 20 7946 0958 or (555) 123-4567.", "call [phone] or [phone]."),
    ("شماره من ۰۹۱۲۳۴۵۶۷۸۹ است", "شماره من [phone] است"),       # Persian digits
    ("رقمي ٠٥٠١٢٣٤٥٦٧ شكرا", "رقمي [phone] شكرا"),              # Arabic-Indic digits
    ("โทร 081-234-5678 ครับ", "โทร [phone] ครับ"),
    ("Мой номер +7 (912) 345-67-89", "Мой номер [phone]"),
    ("Мій номер +380 44 123 4567", "Мій номер [phone]"),
    ("電話は03-1234-5678です", "電話は[phone]です"),
    ("card 4111 1111 1111 1111 ok", "card [card number] ok"),
    ("not a card 4111 1111 1111 1112", "not a card 4111 1111 1111 1112"),
    ("order ORD-123456 on 2026-11-23, waited 45 minutes", "order [redacted] on 2026-11-23, waited 45 minutes"),
    ("ticket #12345678 is still open, call 0812345678", "ticket #12345678 is still open, call [phone]"),
    ("заявка №12345678", "заявка №12345678"),
])
def test_redaction(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


@pytest.mark.parametrize("text", [
    "สวัสดีครับ" * 40, "سلام دوست من، " * 40, "مرحبا بكم " * 50, "Привет мир " * 50, "Привіт світе " * 50,
    "こんにちは世界" * 60, "👩🏽‍💻👨‍👩‍👧‍👦🏳️‍🌈" * 60,
])
def test_cut_never_breaks_a_grapheme_and_loses_nothing(text: str) -> None:
    import regex

    head, rest = cut(text, 100)
    assert rest is not None and len(head) <= 100
    assert head.endswith("…")
    rejoined = head[:-1] + (" " if text[len(head) - 1:len(head)].isspace() else "") + rest
    assert regex.findall(r"\X", head[:-1]) == regex.findall(r"\X", text)[:len(regex.findall(r"\X", head[:-1]))]
    assert rejoined.replace(" ", "") == text.replace(" ", "")


def test_clean_removes_controls_and_bidi_overrides_but_keeps_joiners() -> None:
    assert clean("a\u202eb\x00c\x1b[31m") == "abc[31m"
    assert clean("می\u200cخواهم 👩\u200d💻") == "می\u200cخواهم 👩\u200d💻"


def test_the_quote_card_keeps_mention_syntax_as_plain_text_and_masks_pii() -> None:
    item = Feedback(id=7, source="g2", external_id="x", text="<!channel> <@U123> [x](https://evil) <b>hi</b> "
                    "write me: a@b.co", score=2, score_type="nps", url="https://g2.example/r/1")
    card = feedback_card(FeedbackView(item), redact)
    quote = next(b for b in card.blocks if b.type == "quote")
    assert quote.text == "<!channel> <@U123> [x](https://evil) <b>hi</b> write me: [email]"  # type: ignore
    assert "😞 NPS 2 · detractor" in card.blocks[0].items  # type: ignore[union-attr]
    labels = [b.label for b in next(b for b in card.blocks if b.type == "buttons").buttons]  # type: ignore
    assert labels[:5] == ["💡 Insight", "❤️ Moved me", "🛠 We can fix this", "🔥 Urgent", "🙋 I'll follow up"]
    assert "🔗 Original" in labels


def test_long_quotes_carry_the_rest() -> None:
    item = Feedback(id=1, source="s", external_id="x", text="ดีมาก " * 300)
    quote = next(b for b in feedback_card(FeedbackView(item), redact).blocks if b.type == "quote")
    assert quote.more and len(quote.text) <= 700  # type: ignore[union-attr]
