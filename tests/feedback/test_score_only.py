"""A score without a comment (a survey answered with no words) is an item with text ""; neither text nor score
is still refused. Its card shows the score and no empty quote."""

from __future__ import annotations

import pytest

from bot.feedback.card import FeedbackView, feedback_card
from bot.feedback.ingest import Incoming
from bot.feedback.items import validate
from bot.feedback.redact import Redactor


@pytest.mark.parametrize("text", [None, "", "   ", "\u0000"])
def test_a_score_without_words_is_accepted_with_empty_text(text: str | None) -> None:
    raw = {"id": "1", "source": "survey", "score": 9, "score_type": "nps"}
    item = validate(raw if text is None else {**raw, "text": text})
    assert (item.text, item.score) == ("", 9)


@pytest.mark.parametrize("raw", [{"id": "1", "source": "s"}, {"id": "1", "source": "s", "text": "  "},
                                 {"id": "1", "source": "s", "text": None}])
def test_neither_words_nor_score_is_refused_naming_the_text(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"^text: is required"):
        validate(raw)


def test_the_card_of_a_score_alone_shows_the_score_and_no_quote() -> None:
    item = Incoming(id=5, external_id="1", source="survey", text="", score=3, score_type="csat", customer=None,
                    segment="smb", tags=[], product_area="billing", language=None, url=None)
    card = feedback_card(FeedbackView(item), Redactor())
    assert [b.type for b in card.blocks] == ["context", "buttons"]
    assert card.fallback == "😐 CSAT 3/5 — no comment (survey)"
    assert "“" not in card.fallback
