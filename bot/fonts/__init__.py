"""The fonts charts draw with, and text fitted to them.

The fonts ship beside this module (SIL Open Font License 1.1, see OFL.txt and README.md), so a machine that has only
pip draws every script the demo and its users write: Noto Sans (Latin, Greek, Cyrillic), Noto Sans Arabic (Arabic,
Persian, Urdu), Noto Sans Hebrew, Noto Sans Thai, and a subset of Noto Sans CJK JP (kana, hangul and the common
ideographs). matplotlib 3.11+ lays text out with libraqm, so right-to-left runs are reordered, Arabic letters join
and Thai marks sit on their consonants; each character takes the first font in `families()` that has it. A rarer
ideograph is drawn by a system CJK font when one is installed (Debian: fonts-noto-cjk); emoji have no chart font
and are left out."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import matplotlib
import regex
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

FONTS = Path(__file__).parent
SHIPPED = ("Noto Sans", "Noto Sans Arabic", "Noto Sans Hebrew", "Noto Sans Thai", "Noto Sans CJK JP Subset")
"""In fallback order: Latin first (Noto Sans Arabic has its own digits and punctuation), DejaVu after all of them
(it has Arabic letters of its own, which would split a word between two fonts)."""
SYSTEM_CJK = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK KR")
SYSTEM_CJK_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKjp-Regular.otf", "NotoSansCJKsc-Regular.otf")
ELLIPSIS = "…"
_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"\p{Emoji_Presentation}|\p{Extended_Pictographic}.*\uFE0F|\p{Regional_Indicator}")
"""A grapheme shown as a colour emoji: no chart font draws those, and a few in black and white would look odd."""
_SELECTORS = "\ufe0e\ufe0f\u20e3"  # text/emoji presentation, keycap: nothing without the emoji
_INVISIBLE = {"Cf", "Mn", "Me"}  # joiners, variation selectors, marks: no width of their own


@cache
def families() -> tuple[str, ...]:
    """Register the shipped fonts (and a system CJK font, if any) once; the fallback list charts draw with."""
    for path in sorted(FONTS.glob("*.[ot]tf")):
        font_manager.fontManager.addfont(str(path))
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    if not known & set(SYSTEM_CJK):  # the font cache may predate the package: look for the file itself
        for path in font_manager.findSystemFonts():
            if Path(path).name in SYSTEM_CJK_FILES:
                font_manager.fontManager.addfont(path)
        known = {entry.name for entry in font_manager.fontManager.ttflist}
    system = [name for name in SYSTEM_CJK if name in known][:1]
    return (*SHIPPED, *system, "DejaVu Sans")


def use_chart_fonts() -> None:
    """Make every chart text use the fallback list, and read a `$` as a dollar, not the start of a formula (called
    when a chart module loads)."""
    matplotlib.rcParams["font.family"] = list(families())
    matplotlib.rcParams["text.parse_math"] = False


@cache
def _covered() -> frozenset[int]:
    """Every code point some font of the fallback list has a glyph for."""
    points: set[int] = set()
    for name in families():
        path = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
        points.update(FT2Font(path).get_charmap())
    return frozenset(points)


def drawable(text: str, limit: int = 70) -> str:
    """`text` as the chart fonts can draw it: emoji and characters no font has left out, spaces collapsed, cut at a
    whole character (a Thai consonant keeps its marks) to about `limit` Latin letters' width. A label that was
    only emoji is spelled out ("thumbs up sign"), so an answer always reads as itself."""
    covered = _covered()
    kept, dropped = [], []
    for grapheme in _GRAPHEME.findall(text):  # an emoji with its joiners and modifiers is one grapheme
        if grapheme[0].isspace() or (ord(grapheme[0]) in covered and not _EMOJI.match(grapheme)):
            kept.append("".join(ch for ch in grapheme if (ord(ch) in covered or ch.isspace()) and ch not in _SELECTORS))
        elif unicodedata.category(grapheme[0]) == "So":  # only emoji: spelled out, below
            dropped.append(unicodedata.name(grapheme[0]).lower())
    words = " ".join("".join(kept).split())
    if not any(unicodedata.category(ch) not in _INVISIBLE and not ch.isspace() for ch in words):
        words = " ".join(dropped)
    return _shorten(words, limit)


def _shorten(text: str, limit: int) -> str:
    """Cut at grapheme boundaries; a wide (CJK) character counts as two."""
    graphemes = _GRAPHEME.findall(text)
    widths = [2 if unicodedata.east_asian_width(g[0]) in ("W", "F") else 1 for g in graphemes]
    if sum(widths) <= limit:
        return text
    kept, width = [], 0
    for grapheme, grapheme_width in zip(graphemes, widths, strict=True):
        if width + grapheme_width > limit - 1:
            break
        kept.append(grapheme)
        width += grapheme_width
    return "".join(kept).rstrip() + ELLIPSIS
