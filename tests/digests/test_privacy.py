"""The anonymity minimum in every section, the rule against differencing week-over-week changes, and the
complementary rule that keeps a total minus its shown groups from isolating a hidden one."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import delete, select

from bot.digests import plots
from bot.digests.build import Privacy, build_digest
from bot.digests.card import digest_card
from bot.digests.csv_export import digest_csv
from bot.digests.employees import employees, pulse_tallies
from bot.digests.html_page import digest_html
from bot.digests.markdown import digest_markdown
from bot.digests.model import Digest, Scope
from bot.digests.privacy import Figure, complementary, count_figure, figure
from bot.digests.queries import AnswerGroup, QuestionRow
from bot.feedback.redact import Redactor
from storage.engine import Database
from storage.tables import Engagement, Feedback, Participation, Pulse, Question, Response
from tests.digests.conftest import WEEK, team
from tests.digests.seed import THIS_WED, _run

MINIMUM = 3


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


def test_a_hidden_figure_carries_no_previous_value() -> None:
    assert count_figure(2, 10, minimum=3).previous is None
    assert count_figure(5, 10, minimum=3).concealed() == Figure(None, None, 5, 10, count=True)


@pytest.mark.parametrize("sizes, rest, hidden, expected", [
    ({"a": 5, "b": 4, "c": 8}, 0, (), set()),                  # nothing under the minimum
    ({"a": 5, "b": 2, "c": 8}, 0, (), {"b", "a"}),             # b alone: the smallest other goes with it
    ({"a": 5, "b": 1, "c": 1, "d": 9}, 0, (), {"b", "c", "a"}),  # 1 + 1 is still under 3
    ({"a": 5, "b": 1, "c": 2, "d": 9}, 0, (), {"b", "c"}),     # 1 + 2 reaches the minimum
    ({"a": 5, "b": 0, "c": 8}, 0, (), {"b"}),                  # an empty group gives nothing away
    ({"a": 5, "c": 8}, 2, (), {"a"}),                          # 2 in the total that no group shows
    ({"a": 5, "c": 8}, 0, ("c",), {"c"}),                      # hidden for another reason, 8 ≥ 3
    ({"a": 2, "b": 1}, 0, (), {"a", "b"}),                     # everything hides (the total hides by itself)
])
def test_complementary_rule(sizes: dict[str, int], rest: int, hidden: tuple[str, ...], expected: set[str]) -> None:
    assert complementary(sizes, MINIMUM, rest=rest, hidden=hidden) == expected


def breakdowns(digest: Digest) -> list[tuple[str, Figure, list[Figure]]]:
    """Every total of the digest with the groups that add up to it."""
    out = []
    for scope in (digest.overall, *digest.teams):
        c = scope.customers
        out += [(f"{scope.key} sources", c.volume, list(c.by_source.values())),
                (f"{scope.key} areas", c.volume, list(c.by_area.values()))]

    def teams(pick: str) -> list[tuple[str, Figure, list[Figure]]]:
        section, name = pick.split(".")

        def get(s: Scope) -> Figure:
            return getattr(getattr(s, section), name)

        return [(f"teams' {pick}", get(digest.overall), [get(t) for t in digest.teams])]

    for pick in ("customers.volume", "customers.nps", "customers.csat", "customers.detractors",
                 "employees.participation", "bridge.people", "bridge.reactions", "bridge.claims"):
        out += teams(pick)
    for source, total in digest.overall.customers.by_source.items():
        out.append((f"teams' {source}", total, [t.customers.by_source[source] for t in digest.teams
                                                 if source in t.customers.by_source]))
    return out


async def test_no_total_minus_its_shown_groups_isolates_a_small_group(digest: Digest) -> None:
    """What the total stands on beyond the shown groups is nothing or at least the minimum, this week and (for
    the values behind shown changes) last week."""
    for name, total, groups in breakdowns(digest):
        if not total.hidden:
            rest = total.n - sum(g.n for g in groups if not g.hidden)
            assert rest == 0 or rest >= MINIMUM, name
        if total.previous is not None:
            rest = total.prev_n - sum(g.prev_n for g in groups if g.previous is not None)
            assert rest == 0 or rest >= MINIMUM, f"{name}, last week"


async def test_overall_minus_the_shown_teams_no_longer_reveals_c_apps_people(digest: Digest) -> None:
    """Was: 7 people answered overall, 5 in C-pay, so 2 in C-app (now a run under the minimum counts nowhere,
    its people no more than its answers); 5 reactions overall, 4 in C-pay, so C-app's one person reacted once."""
    shown = [t for t in digest.teams if not t.employees.participation.hidden]
    rest = (digest.overall.employees.participation.value or 0) - sum(t.employees.participation.value or 0
                                                                      for t in shown)
    assert rest == 0 and team(digest, "C-app").employees.participation.hidden  # its run of 2 counts nowhere
    shown = [t for t in digest.teams if not t.bridge.reactions.hidden]
    people = (digest.overall.bridge.people.value or 0) - sum(t.bridge.people.value or 0 for t in shown)
    assert people >= MINIMUM and team(digest, "C-pay").bridge.reactions.hidden
    assert team(digest, "C-pay").customers.quotes == []  # they'd show its reactions item by item


async def test_the_csv_gives_no_hidden_participation_back(digest: Digest) -> None:
    """Was: C-pay's pulse score showed n = 5 answers, one per person; 7 people answered overall, so C-app's 2.
    Now its pulse figures hide with its participation, and no pulse figure's row carries an n."""
    rows = list(csv.DictReader(io.StringIO(digest_csv(digest).decode("utf-8-sig"))))
    overall = next(r for r in rows if r["scope"] == "overall" and r["metric"] == "people who answered")
    pay = [r for r in rows if r["scope"] == "test:C-pay" and r["section"] == "employees"]
    numbers = {float(r[c]) for r in pay for c in ("value", "previous", "change", "n") if r[c]}
    assert float(overall["value"]) - 2 not in numbers
    assert all(r["n"] == "" for r in rows if r["section"] == "employees" and r["metric"] != "people who answered")


async def test_overall_csat_minus_a_shown_team_no_longer_reveals_a_hidden_ones(digest: Digest) -> None:
    """Was: 80 % of 5 overall and C-app's 100 % of 3 left C-pay's hidden CSAT as 1 of 2."""
    assert team(digest, "C-pay").customers.csat.hidden and team(digest, "C-app").customers.csat.hidden
    assert digest.overall.customers.csat.value == pytest.approx(80)


async def test_a_teams_sources_no_longer_reveal_a_hidden_one(digest: Digest) -> None:
    """Was: C-pay's 8 items minus 6 from nps-survey left helpdesk's hidden 2."""
    pay = team(digest, "C-pay").customers
    assert pay.by_source["helpdesk"].hidden and pay.by_source["nps-survey"].hidden
    assert (pay.volume.value or 0) - sum(f.value or 0 for f in pay.by_source.values()) == 8
    assert pay.by_area["checkout"].value == 8  # its only area: the whole volume, nothing hidden under it


async def _add_a_larger_team(db: Database) -> None:
    """C-big: 6 people answered its pulse this week and 4 engaged, more than C-pay on both counts."""
    async with db.session() as session:
        pulse = Pulse(platform="test", channel_id="C-big", author_id="boss", title="Weekly", anonymous=True)
        session.add(pulse)
        await session.flush()
        question = Question(pulse_id=pulse.id, position=0, kind="scale", prompt="How was the week?",
                            options=["1", "2", "3", "4", "5"])
        session.add(question)
        await session.flush()
        assert question.id is not None
        run = await _run(session, pulse, datetime(2026, 11, 16, 9, tzinfo=UTC))
        session.add_all(Participation(run_id=run, question_id=question.id, platform="test", user_id=f"b{n}")
                        for n in range(6))
        item = (await session.exec(select(Feedback.id).where(Feedback.external_id == "m2"))).one()
        session.add_all(Engagement(event_key=f"big{n}", feedback_id=item, platform="test", channel_id="C-big",
                                   user_id=f"b{n}", kind="reaction", value="insight",
                                   created_at=THIS_WED + timedelta(hours=1)) for n in range(4))
        await session.commit()


async def test_a_team_left_out_of_the_view_still_counts(seeded: Database) -> None:
    """C-app's few are given away by C-pay, the smallest team that shows, and C-pay hides for it. A view
    suppressed on its own would find C-big's many in the overall minus C-pay, and show C-pay's figures."""
    await _add_a_larger_team(seeded)
    only = await build_digest(seeded, WEEK, Privacy(3, 4), Redactor(), only_teams=["C-pay"])
    [pay] = only.teams
    assert pay.bridge.people.hidden


@pytest.mark.parametrize("second_last_week, shows_change", [
    (3, True),   # 8 answers against 8
    (4, False),  # 8 against 9: the change would be one answer's pull, though each question's largest run is 5
    (6, True),   # 8 against 11: 3 apart
])
def test_a_pulse_change_compares_all_the_answers_behind_it(second_last_week: int, shows_change: bool) -> None:
    questions = {q: QuestionRow(q, "scale", f"Question {q}", ["1", "2", "3", "4", "5"]) for q in (1, 2)}
    sizes = {(1, 1): 5, (2, 1): 3, (1, 0): 5, (2, 0): second_last_week}  # (question, week) → answers, all "4"
    groups = [AnswerGroup(run_id=q, question_id=q, week=week, value="4", answers=size)
              for (q, week), size in sizes.items()]
    tallies = pulse_tallies(groups, {1: "test:C", 2: "test:C"}, questions, MINIMUM)
    score = employees(tallies, "test:C", 1, MINIMUM, (0, 0, 0), None).score
    assert (score.n, score.prev_n) == (8, 5 + second_last_week)
    assert score.value is not None and (score.delta is not None) == shows_change


async def test_every_section_of_a_small_team_is_hidden(digest: Digest) -> None:
    tiny = team(digest, "C-tiny")  # 2 feedback items, no pulse, no engagement
    assert tiny.customers.volume.hidden and tiny.customers.nps.hidden and not tiny.customers.themes
    assert not tiny.customers.quotes and tiny.employees.themes is None
    app = team(digest, "C-app")  # 2 pulse answers, 1 comment, 1 person engaging
    assert app.employees.score.hidden and app.employees.score.withheld == 2
    assert app.employees.participation.hidden and app.employees.themes is None
    for name in ("people", "reactions", "claims", "closed", "first_reaction_hours", "seen_share"):
        assert getattr(app.bridge, name).hidden, name


async def test_hidden_shows_as_hidden_in_every_format(digest: Digest) -> None:
    card = digest_card(digest, [])
    teams_text = next(b.text for b in card.blocks if getattr(b, "text", "").startswith("Teams"))
    for name in ("#C-tiny", "#C-app"):
        line = next(line for line in teams_text.splitlines() if line.startswith(name))
        assert "hidden" in line and not any(ch.isdigit() for ch in line.split(":", 1)[1])
    pay_line = next(line for line in teams_text.splitlines() if line.startswith("#C-pay"))
    assert "feedback 8" in pay_line and "seen hidden" in pay_line

    markdown = digest_markdown(digest)
    app_section = markdown.split("### C-app")[1].split("###")[0]
    assert "| employees | pulse score (0-100) | hidden |" in app_section

    rows = list(csv.DictReader(io.StringIO(digest_csv(digest).decode("utf-8-sig"))))
    app_score = next(r for r in rows if r["scope"] == "test:C-app" and r["metric"] == "pulse score (0-100)")
    assert (app_score["value"], app_score["n"], app_score["status"]) == ("", "", "hidden")
    assert not any(r["scope"] == "test:C-app" and r["metric"] == "comment theme" for r in rows)


async def test_hidden_comment_themes_say_why_but_not_how_many(digest: Digest) -> None:
    """C-app has 1 comment and C-pay 4: neither count appears anywhere, only the minimum they need."""
    why = "hidden (they need 4 comments)"
    markdown = digest_markdown(digest)
    for name in ("C-app", "C-pay"):
        section = markdown.split(f"### {name}")[1].split("###")[0]
        assert f"Comment themes: {why}" in section and "1 comment" not in section
    html = digest_html(digest, [])
    assert html.count(f"Comment themes: {why}") == 3 and "1 comments" not in html
    rows = list(csv.DictReader(io.StringIO(digest_csv(digest).decode("utf-8-sig"))))
    app = next(r for r in rows if r["scope"] == "test:C-app" and r["metric"] == "comment themes")
    assert (app["label"], app["value"], app["n"], app["status"]) == (why, "", "", "hidden")
    digest.overall.employees.themes = None  # the card shows the overall's
    assert f"Comment themes: {why}" in str(digest_card(digest, []).blocks)
    assert "comment" not in str(plots.draw_figure([plots._volume], digest).texts).lower()


async def test_the_png_says_what_is_hidden_and_why_without_numbers(digest: Digest) -> None:
    digest.trend[-2] = replace(digest.trend[-2], volume=count_figure(2, 0, MINIMUM))  # a hidden week
    drawn = plots.draw_figure([plots._volume], digest)
    assert plots.hidden_caption(digest) in [t.get_text() for t in drawn.texts]
    labels = [t.get_text() for t in drawn.axes[0].texts]
    assert labels == ["hidden"]
    assert drawn.axes[0].patches[-2].get_height() == 0  # drawn as nothing, not as its 2 items


async def test_comment_themes_hide_with_a_smaller_teams(digest: Digest) -> None:
    """C-pay's 4 comments reach the comment minimum, but the overall's 5 minus them would be C-app's 1."""
    assert team(digest, "C-pay").employees.themes is None
    assert team(digest, "C-app").employees.themes is None
    assert digest.overall.employees.themes


async def test_comment_themes_show_from_exactly_the_comment_minimum(seeded: Database) -> None:
    async with seeded.session() as session:
        await session.exec(delete(Response).where(Response.comment == "meetings again"))
        await session.commit()
    digest = await build_digest(seeded, WEEK, Privacy(3, 4), Redactor())
    assert [t.phrase for t in team(digest, "C-pay").employees.themes or []] == ["many meetings"]
