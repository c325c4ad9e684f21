"""A score given without a comment shows its score in a roll-up, with no empty quote."""

from __future__ import annotations

from bot.feedback.redact import Redactor
from bot.feedback.rollup import rollup_card
from storage.tables import Feedback, Station


def test_a_rollup_shows_a_score_alone_without_an_empty_quote() -> None:
    station = Station(id=1, platform="test", channel_id="C1", filters={}, created_by="test:boss", cap_per_hour=1)
    items = [Feedback(id=1, source="survey", external_id="1", text="", score=3, score_type="csat"),
             Feedback(id=2, source="survey", external_id="2", text="Slow checkout", score=9, score_type="nps")]
    blocks = rollup_card(station, items, Redactor()).blocks
    assert [b.type for b in blocks] == ["heading", "context", "quote", "context"]
    assert blocks[1].items == ("😐 CSAT 3/5", "no comment", "survey")  # type: ignore[attr-defined]
    assert blocks[2].text == "Slow checkout"  # type: ignore[attr-defined]
