"""Trend and distribution charts as PNG, drawn with matplotlib's Agg renderer (no GUI, no pyplot state).

Team names are drawn in their own script with the shipped fonts (bot.fonts); the layout engine keeps titles, tick
labels and the caption apart."""

from __future__ import annotations

import io
from collections.abc import Callable

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.digests.model import Digest
from bot.fonts import drawable, use_chart_fonts

use_chart_fonts()

DPI = 96
BLUE, ORANGE, GREY, RED, GREEN = "#2563eb", "#ea580c", "#9ca3af", "#dc2626", "#16a34a"
MAX_TEAMS = 12
CAPTION_INCHES = 0.2
"""For each line of the caption."""

Panel = Callable[[Axes, Digest], None]


def chart_label(text: str, fallback: str, limit: int = 18) -> str:
    """A name as a tick label, in any script; `fallback` (its id) only for a name with nothing to draw."""
    return drawable(text, limit) or fallback


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def hidden_caption(digest: Digest) -> str:
    return f"Hidden: groups under {digest.minimum}, and others that would give one away."


def distribution_caption(digest: Digest) -> str:
    """What the answer charts do: the rules hide a distribution with too few answers in all, not its bars (a
    score's count is one of a question's totals, which show once enough have answered)."""
    return (f"Answers 0-10: drawn only with at least {digest.minimum} in all; each bar counts the answers "
            "with that score, however few.")


def _volume(ax: Axes, digest: Digest) -> None:
    weeks = [p.week[-3:] for p in digest.trend]
    values = [p.volume.value or 0 for p in digest.trend]
    ax.bar(weeks, values, color=[GREY] * (len(values) - 1) + [BLUE])
    for index, point in enumerate(digest.trend):
        if point.volume.hidden and not point.volume.absent:
            ax.text(index, 0, "hidden", rotation=90, ha="center", va="bottom", fontsize=7, color=GREY)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Feedback items per week", fontsize=10)


def _scores(ax: Axes, digest: Digest) -> None:
    positions = list(range(len(digest.trend)))
    nps = [p.nps.value if p.nps.value is not None else float("nan") for p in digest.trend]
    score = [p.score.value if p.score.value is not None else float("nan") for p in digest.trend]
    ax.plot(positions, nps, marker="o", color=BLUE, label="NPS")
    ax.plot(positions, score, marker="s", color=ORANGE, label="Pulse score")
    ax.set_xticks(positions, [p.week[-3:] for p in digest.trend])
    ax.axhline(0, color=GREY, linewidth=0.8)
    ax.set_ylim(-100, 100)
    ax.set_title("NPS and pulse score (hidden weeks left out)", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")


def _histogram(ax: Axes, counts: dict[int, int], title: str) -> None:
    scores = list(range(11))
    colors = [RED if s <= 6 else GREY if s <= 8 else GREEN for s in scores]
    ax.bar(scores, [counts.get(s, 0) for s in scores], color=colors)
    ax.set_xticks(scores)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=10)


def _nps_histogram(ax: Axes, digest: Digest) -> None:
    _histogram(ax, digest.nps_distribution or {}, "Customer NPS answers (0-10)")


def _enps_histogram(ax: Axes, digest: Digest) -> None:
    _histogram(ax, digest.enps_distribution or {}, "Employee eNPS answers (0-10)")


def _shown_teams(digest: Digest) -> list[tuple[str, float, float]]:
    rows = [(chart_label(t.name, t.key.split(":", 1)[-1]), t.bridge.seen_share.value,
             t.bridge.claimed_share.value or 0.0) for t in digest.teams if t.bridge.seen_share.value is not None]
    return [(name, seen, claimed) for name, seen, claimed in rows if seen is not None][:MAX_TEAMS]


def _teams(ax: Axes, digest: Digest) -> None:
    rows = _shown_teams(digest)[::-1]
    places = list(range(len(rows)))  # by position: two teams of the same name keep a bar each
    ax.barh(places, [r[1] for r in rows], color=BLUE, label="seen")
    ax.barh(places, [r[2] for r in rows], color=ORANGE, label="claimed")
    ax.set_yticks(places, [r[0] for r in rows])
    ax.set_xlim(0, 100)
    ax.set_title("Feedback seen and claimed per team (%)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")


def _draw(panels: list[Panel], digest: Digest, columns: int = 2) -> bytes:
    return _png(draw_figure(panels, digest, columns))


def draw_figure(panels: list[Panel], digest: Digest, columns: int = 2) -> Figure:
    """The panels side by side, with a caption on what is hidden and why. The constrained layout measures every
    title and tick label (a team name in any script) so none overprints another; the caption has its own strip."""
    rows = (len(panels) + columns - 1) // columns
    caption = captions(panels, digest)
    figure = Figure(figsize=(4.4 * min(columns, len(panels)), 2.9 * rows + CAPTION_INCHES * (len(caption) + 0.5)),
                    layout="constrained")
    height = figure.get_figheight()
    figure.get_layout_engine().set(rect=(0, CAPTION_INCHES * (len(caption) + 0.5) / height, 1,
                                         1 - CAPTION_INCHES * (len(caption) + 0.5) / height), w_pad=0.06, h_pad=0.08)
    axes = figure.subplots(rows, min(columns, len(panels)), squeeze=False).flatten()
    for ax, panel in zip(axes, panels, strict=False):
        panel(ax, digest)
        ax.tick_params(labelsize=8)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for line, text in enumerate(reversed(caption)):
        figure.text(0.01, (0.04 + CAPTION_INCHES * line) / height, text, fontsize=7, color=GREY)
    return figure


def captions(panels: list[Panel], digest: Digest) -> list[str]:
    """Each caption line that applies to these panels: the answer charts hide no bar, so they say so."""
    lines = []
    if any(panel not in DISTRIBUTIONS for panel in panels):
        lines.append(hidden_caption(digest))
    if any(panel in DISTRIBUTIONS for panel in panels):
        lines.append(distribution_caption(digest))
    return lines


DISTRIBUTIONS: tuple[Panel, ...] = (_nps_histogram, _enps_histogram)


def trend_chart(digest: Digest) -> bytes:
    return _draw([_volume, _scores], digest)


def distribution_chart(digest: Digest) -> bytes | None:
    panels = [p for p, data in ((_nps_histogram, digest.nps_distribution), (_enps_histogram,
                                                                              digest.enps_distribution)) if data]
    return _draw(panels, digest) if panels else None


def teams_chart(digest: Digest) -> bytes | None:
    return _draw([_teams], digest, columns=1) if _shown_teams(digest) else None


def charts(digest: Digest) -> list[tuple[str, bytes]]:
    """(alt text, PNG) for each chart that has something to show."""
    drawn = [("Trend: feedback volume, NPS and pulse score by week", trend_chart(digest)),
             ("Distribution of NPS and eNPS answers this week", distribution_chart(digest)),
             ("Share of feedback seen and claimed per team", teams_chart(digest))]
    return [(alt, png) for alt, png in drawn if png is not None]


def overview_chart(digest: Digest) -> bytes:
    """Every panel in one image, for `earshot digest --format png`."""
    panels: list[Panel] = [_volume, _scores]
    if digest.nps_distribution:
        panels.append(_nps_histogram)
    if digest.enps_distribution:
        panels.append(_enps_histogram)
    if _shown_teams(digest):
        panels.append(_teams)
    return _draw(panels, digest)
