"""Bar and trend charts (PNG, matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bot.pulses.questions import answer_options
from bot.pulses.results import QuestionResult


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def bar_chart(results: list[QuestionResult]) -> bytes | None:
    """One horizontal bar chart per question with options (free text has none) whose counts are shown."""
    charted = [r for r in results if r.question.kind != "text" and r.answered and not r.hidden]
    if not charted:
        return None
    figure, axes = plt.subplots(len(charted), 1, figsize=(6, 1.2 + 0.45 * sum(
        len(answer_options(r.question.kind, r.question.options)) for r in charted)), squeeze=False)
    for axis, result in zip(axes[:, 0], charted, strict=True):
        options = answer_options(result.question.kind, result.question.options)
        labels = [value if result.question.kind in ("scale", "enps") else _drawable(label, f"option {n + 1}")
                  for n, (label, value) in enumerate(options)]
        counts = [result.counts.get(value, 0) for _, value in options]
        axis.barh(range(len(counts)), counts, color="#4a90d9")
        axis.set_yticks(range(len(counts)), labels)
        axis.invert_yaxis()
        axis.set_title(_drawable(result.question.prompt, "")[:70], fontsize=9, loc="left")
        axis.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def trend_chart(points: list[tuple[datetime, float | None]], label: str) -> bytes | None:
    shown = [(day, value) for day, value in points if value is not None]
    if len(shown) < 2:
        return None
    figure, axis = plt.subplots(figsize=(6, 2.4))
    axis.plot([d for d, _ in shown], [v for _, v in shown], marker="o", color="#2e7d32")
    axis.set_title(_drawable(label, "")[:70], fontsize=9, loc="left")
    axis.spines[["top", "right"]].set_visible(False)
    figure.autofmt_xdate()
    return _png(figure)


def _drawable(text: str, fallback: str) -> str:
    """The bundled chart font draws Latin, Greek and Cyrillic; right-to-left scripts need shaping and Thai or
    CJK need other fonts, so such labels fall back to a neutral one (the card beside the chart has the words)."""
    return text if all(ord(ch) < 0x0590 or ch.isspace() for ch in text) else fallback
