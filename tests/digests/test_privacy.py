"""The anonymity minimum in every section, and the rule against differencing week-over-week changes."""

from __future__ import annotations

import csv
import io

import pytest

from bot.digests.card import digest_card
from bot.digests.csv_export import digest_csv
from bot.digests.markdown import digest_markdown
from bot.digests.model import Digest
from bot.digests.privacy import count_figure, figure
from tests.digests.conftest import team


@pytest.mark.parametrize("n, prev_n, shows_value, shows_change", [
    (10, 10, True, True),   # same size: no single answer to isolate
    (13, 10, True, True),   # 3 apart: at the minimum
    (12, 10, True, False),  # 2 apart: the change would be two answers' pull
    (11, 10, True, False),  # 1 apart: the change would be one answer's pull
    (10, 2, True, False),   # last week under the minimum
    (2, 10, False, False),  # this week under the minimum
])
def test_change_rule(n: int, prev_n: int, shows_value: bool, shows_change: bool) -> None:
    result = figure(50.0, n, 40.0, prev_n, minimum=3)
    assert (result.value is not None, result.delta is not None) == (shows_value, shows_change)


def test_counts_need_only_both_weeks_above_the_minimum() -> None:
    assert count_figure(11, 10, minimum=3).delta == 1
    assert count_figure(11, 2, minimum=3).delta is None
    assert count_figure(2, 10, minimum=3).hidden


async def test_every_section_of_a_small_team_is_hidden(digest: Digest) -> None:
    tiny = team(digest, "C-tiny")  # 2 feedback items, no pulse, no engagement
    assert tiny.customers.volume.hidden and tiny.customers.nps.hidden and not tiny.customers.themes
    assert not tiny.customers.quotes and tiny.employees.themes is None
    app = team(digest, "C-app")  # 2 pulse answers, 1 comment, 1 person engaging
    assert app.employees.score.hidden and app.employees.score.n == 2
    assert app.employees.participation.hidden and app.employees.themes is None
    for name in ("people", "reactions", "claims", "closed", "first_reaction_hours", "seen_share"):
        assert getattr(app.bridge, name).hidden, name


async def test_hidden_shows_as_hidden_in_every_format(digest: Digest) -> None:
    card = digest_card(digest, [])
    teams_text = next(b.text for b in card.blocks if getattr(b, "text", "").startswith("Teams"))
    tiny_line = next(line for line in teams_text.splitlines() if line.startswith("#C-tiny"))
    assert "hidden" in tiny_line and not any(ch.isdigit() for ch in tiny_line.split(":", 1)[1])
    app_line = next(line for line in teams_text.splitlines() if line.startswith("#C-app"))
    assert "pulse hidden" in app_line and "seen hidden" in app_line

    markdown = digest_markdown(digest)
    app_section = markdown.split("### C-app")[1].split("###")[0]
    assert "| employees | pulse score (0-100) | hidden |" in app_section
    assert "Comment themes: hidden (1 comments" in app_section

    rows = list(csv.DictReader(io.StringIO(digest_csv(digest))))
    app_score = next(r for r in rows if r["scope"] == "test:C-app" and r["metric"] == "pulse score (0-100)")
    assert (app_score["value"], app_score["n"], app_score["status"]) == ("", "", "hidden")
    assert not any(r["scope"] == "test:C-app" and r["metric"] == "comment theme" for r in rows)


async def test_comment_themes_need_the_comment_minimum(digest: Digest) -> None:
    pay = team(digest, "C-pay").employees
    assert pay.comments == 4 and pay.themes  # exactly at EARSHOT_COMMENT_MIN=4
    assert team(digest, "C-app").employees.themes is None
