"""Pulse result charts in every script (issue 16, point 9): the question and its real answers drawn with glyphs of
the shipped fonts (shaped right to left, Thai marks on their consonants), whole-number count axes, no title over
the panel above. PNGs land in /tmp/shots/charts/ to be looked at."""

from __future__ import annotations

import tomllib
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from bot import fonts
from bot.pulses.charts import bar_chart, bar_figure, trend_chart, trend_figure
from bot.pulses.results import QuestionResult
from storage.tables import Question
from tests.support.chart_checks import drawn_texts, laid_out, outside, overlaps, render, tofu, whole_ticks

SCRIPTS = {
    "en": ("How was your week at work?", ["Great", "Fine", "Rough"]),
    "ru": ("Как прошла ваша неделя на работе?", ["Отлично", "Нормально", "Тяжело"]),
    "th": ("สัปดาห์นี้ที่ทำงานเป็นอย่างไรบ้าง", ["ดีมาก ที่นี่น่าอยู่", "พอใช้ได้", "ไม่ค่อยดี น้ำท่วม"]),
    "fa": ("این هفته کارتان چطور بود؟", ["خیلی خوب", "معمولی", "سخت بود، می‌خواهم استراحت کنم"]),
    "ar": ("كيف كان أسبوعك في العمل؟", ["ممتاز", "جيد", "صعب"]),
    "ja": ("今週の仕事はどうでしたか？", ["とても良い", "普通", "大変だった"]),
}
YES_NO = {"en": "Would you recommend the team?", "ru": "Посоветуете ли вы команду?", "th": "คุณจะแนะนำทีมนี้ไหม",
          "fa": "آیا این تیم را توصیه می‌کنید؟", "ar": "هل تنصح بهذا الفريق؟", "ja": "このチームを勧めますか？"}


def question(kind: str, prompt: str, options: list[str] | None = None, position: int = 0) -> Question:
    return Question(pulse_id=1, position=position, kind=kind, prompt=prompt, options=options or [])


def results(lang: str) -> list[QuestionResult]:
    """Three answers at most to a question: the counts that drew 0.25-steps on the old axis."""
    prompt, options = SCRIPTS[lang]
    return [QuestionResult(question("single", prompt, options), {"0": 2, "1": 1}, 3),
            QuestionResult(question("yesno", YES_NO[lang], position=1), {"yes": 2, "no": 1}, 3),
            QuestionResult(question("multi", f"{prompt} 👍", [*options[:2], "🎉 " + options[2]], 2), {"2": 1}, 1),
            QuestionResult(question("scale", prompt, position=3), {"3": 1, "4": 2}, 3)]


def labels(figure: Figure, panel: int) -> list[str]:
    return [t.get_text() for t in figure.axes[panel].get_yticklabels()]


def assert_readable(figure: Figure, name: str) -> bytes:
    """Drawn with no missing glyph, every text inside the image, no title over another text or panel."""
    png = render(figure, name)
    texts = drawn_texts(figure)
    assert texts and all(tofu(t) == [] for t in texts), {t.get_text(): tofu(t) for t in texts if tofu(t)}
    assert outside(figure) == []
    assert overlaps(figure) == []
    return png


@pytest.mark.parametrize("lang", list(SCRIPTS))
def test_every_script_shows_its_question_and_answers(lang: str) -> None:
    prompt, options = SCRIPTS[lang]
    figure = bar_figure(results(lang))
    assert figure is not None
    assert assert_readable(figure, f"pulse-{lang}").startswith(b"\x89PNG")
    assert [ax.get_title(loc="left") for ax in figure.axes] == [prompt, YES_NO[lang], prompt, prompt]
    assert labels(figure, 0) == options
    assert labels(figure, 1) == ["Yes", "No"]  # the answers' words, emoji left out
    assert labels(figure, 2) == options
    assert labels(figure, 3) == ["1", "2", "3", "4", "5"]
    assert not any(label.startswith("option") for panel in range(4) for label in labels(figure, panel))
    assert all(whole_ticks(ax.xaxis) for ax in figure.axes)


def test_an_answer_that_is_only_an_emoji_is_spelled_out() -> None:
    figure = bar_figure([QuestionResult(question("single", "Mood? 🙂", ["👍", "👎", "🤷‍♀️"]), {"0": 1, "2": 1}, 2)])
    assert figure is not None
    assert labels(figure, 0) == ["thumbs up sign", "thumbs down sign", "shrug"]
    assert figure.axes[0].get_title(loc="left") == "Mood?"
    assert_readable(figure, "pulse-emoji")


def test_many_questions_stack_without_a_title_over_the_panel_above() -> None:
    """Was: each title sat over the tick labels of the chart above it."""
    many = [QuestionResult(question("single", f"{SCRIPTS[lang][0]} ({n})", SCRIPTS[lang][1], n), {"1": 1}, 1)
            for n, lang in enumerate(["ja", "fa", "th", "en", "ru", "ar"])]
    figure = bar_figure(many)
    assert figure is not None
    assert_readable(figure, "pulse-stacked")
    assert all(whole_ticks(ax.xaxis) for ax in figure.axes)


def test_a_long_question_is_cut_at_a_whole_character() -> None:
    thai = "ที่นี่" * 40  # each cluster a consonant with its marks: a cut between them would strand a mark
    figure = bar_figure([QuestionResult(question("yesno", thai), {"yes": 1}, 1)])
    assert figure is not None
    title = figure.axes[0].get_title(loc="left")
    assert title.endswith(fonts.ELLIPSIS) and thai.startswith(title[:-1])
    assert unicodedata.category(thai[len(title) - 1]) != "Mn"  # what comes next starts a cluster: no mark left over
    assert_readable(figure, "pulse-long-thai")


def test_the_trend_chart_titles_in_any_script() -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    points: list[tuple[datetime, float | None]] = [(start + timedelta(weeks=n), v) for n, v in
                                                   enumerate([3.2, None, 3.8, 4.1])]
    for lang in ("fa", "th", "ja"):
        figure = trend_figure(points, SCRIPTS[lang][0])
        assert figure is not None and figure.axes[0].get_title(loc="left") == SCRIPTS[lang][0]
        assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["2 Nov", "16 Nov", "23 Nov"]  # its runs
        assert_readable(figure, f"trend-{lang}")
    png = trend_chart(points, SCRIPTS["ar"][0])
    assert png is not None and png.startswith(b"\x89PNG")
    assert bar_chart(results("ar")) is not None


def test_arabic_and_persian_are_shaped_right_to_left() -> None:
    """The letters of سبب and پیام join (initial, medial, final forms, not the isolated ones of the font's character
    map) and the first letter is drawn rightmost."""
    for word in ("سبب", "پیام"):
        glyphs = laid_out(Text(text=word, fontfamily=list(fonts.families())))
        assert {g.family for g in glyphs} == {"Noto Sans Arabic"}
        assert any(g.index != g.isolated for g in glyphs)
        first = next(g for g in glyphs if g.char == word[0])
        assert first.x == max(g.x for g in glyphs)


def test_thai_marks_sit_on_their_consonant() -> None:
    """In ที่ and น้ำ the vowel and tone marks are drawn over their consonant, not after it."""
    for word in ("ที่", "น้ำ"):
        glyphs = laid_out(Text(text=word, fontfamily=list(fonts.families())))
        assert {g.family for g in glyphs} == {"Noto Sans Thai"}
        base, marks = glyphs[0], [g for g in glyphs[1:] if g.ink and g.ink[0] < g.x]  # ink left of the pen: a mark
        assert base.ink and len(marks) == 2  # ที่: sara ii and mai ek; น้ำ: mai tho and the nikhahit of sara am
        for mark in marks:
            assert mark.ink and base.ink[0] <= (mark.ink[0] + mark.ink[1]) / 2 <= base.ink[1], (word, mark)


def test_drawable_keeps_words_and_drops_only_emoji() -> None:
    assert fonts.drawable("👍 Yes") == "Yes" and fonts.drawable("👎") == "thumbs down sign"
    assert fonts.drawable("Ok 👨‍👩‍👧 family") == "Ok family"
    assert fonts.drawable("می‌خواهم") == "می‌خواهم"  # the zero-width non-joiner stays
    assert fonts.drawable("今週の仕事はどうでしたか", 10) == "今週の仕…"  # a CJK character is two wide
    assert fonts.drawable("Мобильное приложение", 18) == "Мобильное приложе…"


def test_the_fonts_ship_with_their_licence() -> None:
    folder = Path(fonts.__file__).parent
    assert (folder / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE Version 1.1") == 1
    assert {p.name for p in folder.glob("*.[ot]tf")} == {
        "NotoSans-Regular.ttf", "NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf",
        "NotoSansThai-Regular.ttf", "NotoSansCJKjp-Subset-Regular.otf"}
    assert fonts.families()[: len(fonts.SHIPPED)] == fonts.SHIPPED
    package_data = tomllib.loads((folder.parent.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert {"*.ttf", "*.otf", "OFL.txt"} <= set(package_data["package-data"]["bot.fonts"])  # in the wheel
