"""Bar and trend charts (PNG, matplotlib's Agg renderer: no display, no pyplot state, safe in a worker thread).

Questions and answers are drawn in their own script with the shipped fonts (bot.fonts); the layout engine keeps each
panel's title clear of the panel above."""

from __future__ import annotations

import io
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.fonts import drawable, use_chart_fonts
from bot.pulses.questions import answer_options
from bot.pulses.results import QuestionResult

use_chart_fonts()

DPI = 110
BAR, LINE = "#4a90d9", "#2e7d32"
TITLE_WIDTH = 70
"""A title's length in Latin letters (a CJK character counts as two): about the figure's width at 9 points."""
LABEL_WIDTH = 32


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def bar_figure(results: list[QuestionResult]) -> Figure | None:
    """One horizontal bar chart per question with options (free text has none) whose counts are shown."""
    charted = [r for r in results if r.question.kind != "text" and r.answered and not r.hidden]
    if not charted:
        return None
    bars = sum(len(answer_options(r.question.kind, r.question.options)) for r in charted)
    figure = Figure(figsize=(6, 0.75 * len(charted) + 0.32 * bars + 0.3), dpi=DPI, layout="constrained")
    heights = [len(answer_options(r.question.kind, r.question.options)) + 1.5 for r in charted]
    axes = figure.subplots(len(charted), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for axis, result in zip(axes, charted, strict=True):
        options = answer_options(result.question.kind, result.question.options)
        counts = [result.counts.get(value, 0) for _, value in options]
        axis.barh(range(len(counts)), counts, color=BAR)
        axis.set_yticks(range(len(counts)), [drawable(label, LABEL_WIDTH) for label, _ in options])
        axis.invert_yaxis()
        _count_axis(axis, max(counts, default=0))
        axis.set_title(drawable(result.question.prompt, TITLE_WIDTH), fontsize=9, loc="left")
        axis.tick_params(labelsize=8)
    return figure


def _count_axis(axis: Axes, most: int) -> None:
    """Whole numbers only: nobody gave half an answer."""
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlim(0, max(most, 1) * 1.05)
    axis.spines[["top", "right"]].set_visible(False)


def bar_chart(results: list[QuestionResult]) -> bytes | None:
    figure = bar_figure(results)
    return _png(figure) if figure else None


def trend_figure(points: list[tuple[datetime, float | None]], label: str) -> Figure | None:
    shown = [(day, value) for day, value in points if value is not None]
    if len(shown) < 2:
        return None
    figure = Figure(figsize=(6, 2.4), dpi=DPI, layout="constrained")
    axis = figure.subplots()
    days = [d for d, _ in shown]
    axis.plot(days, [v for _, v in shown], marker="o", color=LINE)
    axis.set_xticks(days, [f"{d.day} {d:%b}" for d in days])  # a tick per run, at its day: no in-between dates
    axis.set_title(drawable(label, TITLE_WIDTH), fontsize=9, loc="left")
    axis.spines[["top", "right"]].set_visible(False)
    axis.tick_params(labelsize=8)
    if len(days) > 8:
        figure.autofmt_xdate()
    return figure


def trend_chart(points: list[tuple[datetime, float | None]], label: str) -> bytes | None:
    figure = trend_figure(points, label)
    return _png(figure) if figure else None
