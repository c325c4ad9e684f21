"""Checks on a drawn matplotlib figure: every text drawn with real glyphs (no tofu), no title over the panel above,
whole-number count axes. Used by the chart image tests (issue 16, point 9)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from matplotlib import _text_helpers, font_manager
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

SHOTS = Path("/tmp/shots/charts")


@dataclass(frozen=True)
class Glyph:
    """One glyph as Agg draws it (40 points at 72 dpi: pixels): its cluster, font, index, pen position and ink."""

    char: str
    family: str
    index: int
    isolated: int
    """The glyph the font's character map gives the cluster's first character, before shaping."""
    x: float
    ink: tuple[float, float] | None
    """Left and right edge of the drawn outline, None for a blank."""


def laid_out(text: Text) -> list[Glyph]:
    """The glyphs Agg draws for `text`, laid out by libraqm with the text's font fallback list."""
    font = font_manager.get_font(font_manager.fontManager._find_fonts_by_props(text.get_fontproperties()))
    font.set_size(40, 72)
    glyphs = []
    for item in _text_helpers.layout(text.get_text(), font):  # each item loads its glyph: read it now
        outline = item.ft_object.get_path()[0][:, 0]
        ink = (item.x + outline.min(), item.x + outline.max()) if len(outline) else None
        glyphs.append(Glyph(item.char, item.ft_object.family_name, item.glyph_index,
                            item.ft_object.get_char_index(ord(item.char[0])), item.x, ink))
    return glyphs


def tofu(text: Text) -> list[str]:
    """Characters drawn as a missing-glyph box: glyph 0, or matplotlib's Last Resort font."""
    return [glyph.char for glyph in laid_out(text) if glyph.index == 0 or glyph.family.startswith("Last Resort")]


def drawn_texts(figure: Figure) -> list[Text]:
    """Every text drawn: figure and axes texts, titles, and the tick labels inside the axis' view."""
    ticks = {t for ax in figure.axes for t in [*ax.get_xticklabels(), *ax.get_yticklabels()]}
    shown = {t for ax in figure.axes if ax.get_visible() for t in _texts(ax)}
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()
            and (t not in ticks or t in shown) and (t.axes is None or t.axes.get_visible())]


def render(figure: Figure, name: str) -> bytes:
    """Draw and save under /tmp/shots/charts; a missing glyph (matplotlib warns) fails the test."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font")
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        figure.savefig(SHOTS / f"{name}.png")
    return (SHOTS / f"{name}.png").read_bytes()


def overlaps(figure: Figure) -> list[tuple[str, str]]:
    """Pairs of (title, text) that intersect: a panel's title against every tick label, axis label and title of
    every other panel, and against its own tick labels."""
    renderer = figure.canvas.get_renderer()
    found = []
    axes = [ax for ax in figure.axes if ax.get_visible()]
    for ax in axes:
        for title in (ax.title, ax._left_title, ax._right_title):
            if not title.get_text():
                continue
            box = title.get_window_extent(renderer)
            others: list[Text] = [t for other in axes for t in _texts(other) if t is not title]
            found += [(title.get_text(), t.get_text()) for t in others if box.overlaps(t.get_window_extent(renderer))]
            found += [(title.get_text(), f"axes of {other.get_title(loc='left') or other.get_title()}")
                      for other in axes if other is not ax and box.overlaps(other.get_window_extent(renderer))]
    return found


def _texts(ax: Axes) -> list[Text]:
    """The axes' titles, axis labels and the tick labels it draws (those inside its view)."""
    ticks = [tick.label1 for axis in (ax.xaxis, ax.yaxis) for tick in axis._update_ticks()]
    return [t for t in [*ticks, ax.xaxis.label, ax.yaxis.label, ax.title, ax._left_title, ax._right_title]
            if t.get_visible() and t.get_text()]


def outside(figure: Figure) -> list[str]:
    """Texts not wholly inside the image."""
    renderer = figure.canvas.get_renderer()
    frame = figure.bbox
    return [t.get_text() for t in drawn_texts(figure) if not _within(t.get_window_extent(renderer), frame)]


def _within(box: Bbox, frame: Bbox) -> bool:
    return box.x0 >= frame.x0 - 1 and box.y0 >= frame.y0 - 1 and box.x1 <= frame.x1 + 1 and box.y1 <= frame.y1 + 1


def whole_ticks(axis: Axis) -> bool:
    """The ticks shown on a count axis are whole numbers."""
    low, high = sorted(axis.get_view_interval())
    shown = [v for v in axis.get_majorticklocs() if low - 1e-9 <= v <= high + 1e-9]
    return bool(shown) and all(float(v).is_integer() for v in shown)
