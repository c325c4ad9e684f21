"""Digest figures against the hand-computed world in seed.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bot.digests.model import Digest
from bot.digests.suppression import BRIDGE_FIGURES
from storage.engine import Database
from tests.digests.conftest import WEEK, team


def approx(value: float | None) -> object:
    return pytest.approx(value, abs=0.01)


async def test_overall_customer_figures(digest: Digest) -> None:
    c = digest.overall.customers
    assert (c.volume.value, c.volume.previous, c.volume.delta) == (17, 10, 7)
    assert c.nps.value == approx(100 * (6 - 4) / 12) and c.nps.n == 12
    assert c.nps.delta is None  # 12 against 10 respondents: 2 apart, under the minimum of 3
    assert c.csat.value == approx(80)
    assert (c.detractors.value, c.detractors.previous) == (4, 2)
    assert {k: f.value for k, f in c.by_source.items()} == {"nps-survey": 8, "helpdesk": 5, "appstore": 4}
    assert c.by_area["checkout"].value == 8
    assert c.by_area["reports"].hidden and c.by_area["reports"].n == 2
    assert c.by_area["mobile"].hidden  # else 17 − 8 − 7 would be reports' 2 items


async def test_the_arithmetic_behind_hidden_overall_figures(everything: Digest) -> None:
    c = everything.overall.customers
    assert {k: f.value for k, f in c.by_area.items()} == {"checkout": 8, "mobile": 7, "reports": 2}


async def test_team_customer_figures_follow_the_stations_areas(digest: Digest, everything: Digest) -> None:
    pay = team(digest, "C-pay").customers
    assert pay.volume.value == 8
    assert pay.nps.value == approx(-100 / 6) and pay.nps.previous == approx(50)
    assert pay.nps.delta == approx(-100 / 6 - 50)  # 6 against 6: the change shows
    assert pay.csat.hidden  # two CSAT answers
    app = team(digest, "C-app").customers  # the complement of C-tiny (volume, NPS) and of C-pay's CSAT
    assert app.volume.hidden and app.nps.hidden and app.csat.hidden and app.detractors.hidden
    app = team(everything, "C-app").customers  # its station says "Mobile": areas match case-insensitively
    assert app.volume.value == 7 and app.nps.value == approx(75) and app.nps.delta == approx(50)
    assert app.csat.value == approx(100)


async def test_employee_figures(digest: Digest, everything: Digest) -> None:
    pay = team(everything, "C-pay").employees
    assert pay.score.value == approx(65) and pay.score.previous == approx(85)
    assert pay.score.n == 5  # the answers behind it
    assert pay.workload.delta == approx(-20)
    assert pay.enps.value == approx(0) and pay.enps.previous == approx(40)
    pay = team(digest, "C-pay").employees
    assert pay.participation.value == 5 and pay.score.value == approx(65)
    assert pay.themes is None  # 4 comments reach the minimum, but the overall's 5 would give C-app's 1 away
    app = team(digest, "C-app").employees
    assert app.participation.hidden and app.score.hidden  # a run of 2 people counts nowhere, like its answers
    overall = digest.overall.employees
    assert overall.score.value == approx(65)  # C-app's two answers are left out, not averaged in
    assert overall.participation.value == 5  # and so are its two people
    assert [t.phrase for t in overall.themes or []] == ["many meetings"]
    pay = team(everything, "C-pay").employees
    assert (pay.participation.value, pay.participation.previous) == (5, 5)
    assert [t.phrase for t in pay.themes or []] == ["many meetings"]


async def test_bridge_figures(digest: Digest, everything: Digest) -> None:
    assert all(getattr(team(digest, "C-pay").bridge, name).hidden for name in BRIDGE_FIGURES)  # C-app's complement
    overall = digest.overall.bridge
    assert (overall.people.value, overall.reactions.value) == (4, 5)
    assert overall.seen_share.hidden  # C-app's one person engaging is hidden: an item only they saw would show
    assert everything.overall.bridge.seen_share.value == approx(100 * 4 / 17)
    pay = team(everything, "C-pay").bridge
    assert (pay.people.value, pay.reactions.value, pay.claims.value, pay.closed.value) == (3, 4, 1, 1)
    assert pay.reactions.delta == 1
    assert pay.first_reaction_hours.value == approx(8 / 3) and pay.first_reaction_hours.previous == approx(2)
    assert pay.seen_share.value == approx(37.5) and pay.claimed_share.value == approx(12.5)
    assert pay.seen_share.previous == approx(100 * 2 / 6)


async def test_quotes_are_the_most_reacted_and_redacted(digest: Digest, everything: Digest) -> None:
    quotes = digest.overall.customers.quotes
    assert quotes[0].reactions == 2
    assert quotes[0].text == "Payment failed at checkout, write me at [email]"
    assert "ana@example.com" not in str(digest)
    assert team(digest, "C-pay").customers.quotes == []  # they count its reactions, which are hidden
    assert [q.reactions for q in team(everything, "C-pay").customers.quotes] == [2, 1, 1]


async def test_flag_links_rising_detractors_to_a_falling_workload_pulse(digest: Digest, everything: Digest) -> None:
    """Checkout's detractors went 1 → 3; the flag names no counts, which suppression may hide."""
    assert digest.flags == everything.flags == [
        "checkout: detractors rose while C-pay's workload score fell 85 → 65"]


async def test_trend_and_distributions(digest: Digest) -> None:
    assert [p.week for p in digest.trend][-2:] == ["2026-W46", "2026-W47"]
    assert [p.volume.value for p in digest.trend][-2:] == [10, 17]
    assert digest.trend[-1].score.value == approx(65)
    assert digest.nps_distribution == {0: 1, 3: 1, 5: 1, 6: 1, 7: 1, 8: 1, 9: 3, 10: 3}
    assert digest.enps_distribution == {3: 1, 6: 1, 7: 1, 9: 1, 10: 1}


async def test_customer_themes_across_scripts(digest: Digest, everything: Digest) -> None:
    phrases = [t.phrase for t in team(digest, "C-pay").customers.themes]
    assert phrases[:2] == ["payment failed", "ชำระเงินไม่ได้"]
    # ties (two texts each) go to the phrase of more words, then alphabetically: 通知 comes seventh
    assert [t.phrase for t in digest.overall.customers.themes] == [
        "payment failed", "ชำระเงินไม่ได้", "checkout", "quick", "slow"]
    assert team(digest, "C-app").customers.themes == []  # its volume is hidden
    assert [t.phrase for t in team(everything, "C-app").customers.themes] == ["通知"]


async def test_no_flag_names_an_area_whose_row_is_hidden(seeded: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.digests import build
    from bot.feedback.redact import Redactor

    real_suppress = build.suppress

    def checkout_hidden_too(overall, scopes, areas, minimum):  # type: ignore[no-untyped-def]
        real_suppress(overall, scopes, areas, minimum)
        overall.customers.by_area["checkout"] = overall.customers.by_area["checkout"].concealed()

    monkeypatch.setattr(build, "suppress", checkout_hidden_too)
    facts = await build.gather_facts(seeded, WEEK, build.Privacy(1, 1))
    assert build.assemble(facts, WEEK, build.Privacy(1, 1), Redactor()).flags == []  # it flags checkout otherwise
