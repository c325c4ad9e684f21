"""The digest's charts in every script (issue 16, point 9): team names drawn in their own script with real glyphs,
whole-number count axes, no title over the panel above, caption clear of the panels. PNGs land in
/tmp/shots/charts/ to be looked at."""

from __future__ import annotations

from dataclasses import replace

import pytest
from matplotlib.figure import Figure

from bot.digests import plots
from bot.digests.build import Privacy, build_digest
from bot.digests.model import Digest
from bot.feedback.redact import Redactor
from storage.engine import Database
from tests.digests.conftest import WEEK
from tests.support.chart_checks import drawn_texts, outside, overlaps, render, tofu, whole_ticks
from tests.support.recording import RecordingAdapter

NAMES = {
    "thai-persian": {"C-pay": "ทีมชำระเงิน", "C-app": "تیم پرداخت"},
    "japanese-cyrillic": {"C-pay": "決済チーム", "C-app": "Мобильное приложение"},
}


async def digest_named(db: Database, names: dict[str, str]) -> Digest:
    return await build_digest(db, WEEK, Privacy(1, 1), Redactor(), lookups={"test": RecordingAdapter(names=names)})


def assert_readable(figure: Figure, name: str) -> None:
    render(figure, name)
    texts = drawn_texts(figure)
    assert texts and all(tofu(t) == [] for t in texts), {t.get_text(): tofu(t) for t in texts if tofu(t)}
    assert outside(figure) == []
    assert overlaps(figure) == []
    caption_top = max(t.get_window_extent().y1 for t in figure.texts)
    assert all(ax.get_tightbbox().y0 > caption_top for ax in figure.axes if ax.get_visible())


@pytest.mark.parametrize("script", list(NAMES))
async def test_the_overview_draws_team_names_in_their_script(seeded: Database, script: str) -> None:
    names = NAMES[script]
    digest = await digest_named(seeded, names)
    panels = [plots._volume, plots._scores, *plots.DISTRIBUTIONS, plots._teams]
    figure = plots.draw_figure(panels, digest)
    assert_readable(figure, f"digest-overview-{script}")
    teams_axis = figure.axes[4]
    assert {plots.chart_label(n, "?") for n in names.values()} <= {t.get_text() for t in teams_axis.get_yticklabels()}
    assert whole_ticks(figure.axes[0].yaxis)  # feedback items per week: whole items
    assert all(whole_ticks(ax.yaxis) for ax in figure.axes[2:4])  # answers per score
    teams = plots.draw_figure([plots._teams], digest, columns=1)
    assert_readable(teams, f"digest-teams-{script}")


async def test_a_small_week_counts_in_whole_items(seeded: Database) -> None:
    """Was: two items a week drew ticks at 0.25, 0.5, 0.75."""
    digest = await digest_named(seeded, {})
    digest.trend = [replace(point, volume=replace(point.volume, value=volume))
                    for point, volume in zip(digest.trend[-2:], (1, 2), strict=True)]
    figure = plots.draw_figure([plots._volume], digest)
    assert_readable(figure, "digest-volume-small")
    assert whole_ticks(figure.axes[0].yaxis)


def test_a_name_with_nothing_to_draw_goes_by_its_id() -> None:
    assert plots.chart_label("🎉", "C-party") == "party popper"
    assert plots.chart_label("\u200d", "C-x") == "C-x"
    assert plots.chart_label("แอปมือถือ", "C-app") == "แอปมือถือ"
