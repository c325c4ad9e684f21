"""Ways a reader could difference one digest into a group under the minimum, each closed: teams hearing
overlapping areas, flags, engagement shares over a hidden volume, the trend next to a hidden change, and the
pulse figures of a team whose participation is hidden. Minimum 3 throughout."""

from __future__ import annotations

import re

from sqlmodel import select

from bot.digests.build import Privacy, build_digest
from bot.digests.model import Digest
from bot.digests.privacy import Figure
from bot.feedback.redact import Redactor
from storage.engine import Database
from storage.tables import Station
from tests.digests.conftest import WEEK, team
from tests.digests.world import World

MINIMUM = 3


async def build(db: Database, minimum: int = MINIMUM) -> Digest:
    return await build_digest(db, WEEK, Privacy(minimum, 4), Redactor())


async def test_teams_hearing_overlapping_areas_do_not_give_the_difference_away(seeded: Database) -> None:
    """Was: C-tiny hearing checkout and reports showed 10 items, NPS −12.5 of 8 answers, 4 detractors; C-pay
    (checkout) 8 items, −16.7 of 6, 3 detractors: reports' 2 items were a promoter and a detractor."""
    async with seeded.session() as session:
        station = (await session.exec(select(Station).where(Station.channel_id == "C-tiny"))).one()
        station.filters = {"areas": ["checkout", "reports"]}
        session.add(station)
        await session.commit()
    digest = await build(seeded)
    scopes = [digest.overall, *digest.teams]
    for name in ("volume", "nps", "detractors", "csat"):
        shown = [getattr(s.customers, name) for s in scopes if not getattr(s.customers, name).hidden]
        for a in shown:
            for b in shown:
                assert a.n == b.n or abs(a.n - b.n) >= MINIMUM, (name, a, b)
    tiny, pay = team(digest, "C-tiny").customers, team(digest, "C-pay").customers
    assert tiny.volume.hidden or tiny.volume == pay.volume
    assert "reports" not in tiny.by_area  # it counts in no team that hears only some areas


async def test_areas_too_small_for_teams_still_count_in_the_overall(seeded: Database) -> None:
    digest = await build(seeded)
    assert digest.overall.customers.volume.value == 17  # checkout 8 + mobile 7 + reports 2
    assert digest.overall.customers.by_area["reports"].hidden


async def test_flags_name_no_counts_and_skip_teams_whose_detractors_hide(db: Database) -> None:
    """Was: "alpha: detractors rose 1 → 3" while C-alpha's detractors read hidden; with 4 overall, beta's one
    NPS answer was a detractor."""
    world = World(db)
    await world.station("C-alpha", ["alpha"])
    for score in (0, 3, 5, 9, 10):
        await world.feedback("alpha", score, "nps")
    for score in (2, 9, 9, 10, 10):
        await world.feedback("alpha", score, "nps", this_week=False)
    await world.feedback("beta", 1, "nps")
    for _ in range(9):
        await world.feedback("beta")
    await world.pulse("C-alpha", [2, 2, 3, 2, 2], [4, 4, 5, 4, 4])
    digest = await build(db)
    assert team(digest, "C-alpha").customers.detractors.hidden
    assert digest.flags == []
    everything = await build(db, minimum=1)
    assert everything.flags == ["alpha: detractors rose while C-alpha's workload score fell 80 → 30"]
    assert not any(re.search(r"detractors rose \d", flag) for flag in everything.flags)


async def test_engagement_shares_hide_with_the_volume_they_divide_by(db: Database) -> None:
    """Was: C-s's 2 items read hidden but "seen 50 %" and "claimed 50 %" gave them back; its hours to first
    reaction were one person's reaction to one item."""
    world = World(db)
    await world.station("C-s", ["small"])
    await world.station("C-big", ["big"])
    small = [await world.feedback("small") for _ in range(2)]
    big = [await world.feedback("big") for _ in range(10)]
    await world.engage("C-s", "u1", small[0], hours=7)
    await world.engage("C-s", "u1", small[0], kind="claim", hours=8)
    await world.engage("C-s", "u2", big[0])
    await world.engage("C-s", "u3", big[1])
    digest = await build(db)
    s = team(digest, "C-s")
    assert s.customers.volume.hidden and not s.bridge.people.hidden
    assert s.bridge.seen_share.hidden and s.bridge.claimed_share.hidden
    assert s.bridge.first_reaction_hours.hidden  # one item reacted to


async def test_the_trend_hides_an_average_the_change_rule_would(db: Database) -> None:
    """Was: the change was hidden (6 answers against 5), but the trend read 75 then 62.5: 6 × 62.5 − 5 × 75
    is the new person's answer, a 1."""
    world = World(db)
    await world.pulse("C-x", [4, 4, 4, 4, 4, 1], [4, 4, 4, 4, 4])
    digest = await build(db)
    assert digest.overall.employees.score.value == 62.5 and digest.overall.employees.score.previous is None
    assert digest.trend[-1].score.value == 62.5 and digest.trend[-2].score.hidden
    world = World(db)
    await world.pulse("C-y", [4, 4, 4], [])  # the overall: 9 answers against 5, far enough apart to compare,
    digest = await build(db)
    assert digest.trend[-1].score.n == 9  # but last week's 75 was C-x's alone, whose change is hidden
    assert digest.overall.employees.score.previous is None and digest.trend[-2].score.hidden


def test_the_trend_rule_compares_each_week_with_the_next_newer_shown_one() -> None:
    from bot.digests.build import comparable_trend
    from bot.digests.model import TrendPoint
    from bot.digests.privacy import figure

    def point(n: int | None) -> TrendPoint:
        none = figure(None, 0, None, 0, MINIMUM)
        return TrendPoint("w", none, none, figure(50.0, n, None, 0, MINIMUM) if n is not None else none)

    shown = [not p.score.hidden for p in comparable_trend([point(n) for n in (4, 5, None, 9, 10, 10)], MINIMUM)]
    assert shown == [False, True, False, False, True, True]  # 9 vs 10 hides; 5 vs 10 shows; 4 vs 5 hides


async def test_a_team_hearing_two_areas_keeps_phrases_seen_once_in_each(db: Database) -> None:
    world = World(db)
    await world.station("C-both", ["a", "b"])
    for area, text in (("a", "refund is late"), ("a", "login ok"), ("a", "fine"), ("b", "refund is late again"),
                       ("b", "works"), ("b", "meh")):
        await world.feedback(area, text=text)
    digest = await build(db)
    assert [t.phrase for t in team(digest, "C-both").customers.themes] == [
        t.phrase for t in digest.overall.customers.themes] != []


def reader_rests(total: Figure, groups: list[Figure]) -> list[float]:
    """What a reader gets from a total and the groups that show: the total minus all of them, or minus one."""
    shown = [g.n for g in groups if not g.hidden]
    return [total.n - sum(shown), *(total.n - n for n in shown)] if not total.hidden else []


async def test_a_hidden_change_is_not_rebuilt_from_the_overall_and_the_other_teams(db: Database) -> None:
    """Was: C-a 4 answers against 3 hid its change, but (9 × overall's previous − C-b's 3 × 100 − C-c's 3 × 25) / 3
    gave its previous 75, and 4 × 56.25 − 3 × 75 = 0 its new person's answer, a 1."""
    world = World(db)
    await world.pulse("C-a", [4, 4, 4, 1], [4, 4, 4])
    await world.pulse("C-b", [3, 3, 3], [5, 5, 5])
    await world.pulse("C-c", [5, 5, 5, 5, 5, 5], [2, 2, 2])
    digest = await build(db)
    assert team(digest, "C-a").employees.score.previous is None
    assert digest.overall.employees.score.previous is None and digest.trend[-2].score.hidden
    assert team(digest, "C-b").employees.score.previous == 100  # other teams keep their changes


async def test_one_person_engaging_in_several_channels_is_not_isolated(db: Database) -> None:
    """Was: p1 alone in each of C-b, C-c and C-d counted 1 + 1 + 1 = 3 people; the overall's 6 minus C-a's 5
    was p1: 3 reactions, a claim, a loop closed and a mean of 20 hours to first reaction."""
    world = World(db)
    items = [await world.feedback("x") for _ in range(10)]
    for channel in ("C-a", "C-b", "C-c", "C-d"):
        await world.station(channel, ["x"])
    for person in range(5):
        await world.engage("C-a", f"a{person}", items[person], hours=2)
    for channel, item, hours in (("C-b", items[5], 10), ("C-c", items[6], 20), ("C-d", items[7], 30)):
        await world.engage(channel, "p1", item, hours=hours)
    digest = await build(db)
    people = [t.bridge.people for t in digest.teams]
    assert not any(0 < rest < MINIMUM for rest in reader_rests(digest.overall.bridge.people, people))
    assert team(digest, "C-a").bridge.reactions.hidden


async def test_people_in_runs_under_the_minimum_count_nowhere(db: Database) -> None:
    """Was: the eNPS chart counted 7 answers (C-a's 3, C-b's 4; C-tiny's 1 withheld) against 8 people, so
    C-tiny's hidden row was 1 person and C-a's, hidden as its complement, 3."""
    world = World(db)
    await world.pulse("C-a", [9, 10, 3], [], kind="enps")
    await world.pulse("C-b", [8, 9, 6, 10], [], kind="enps")
    await world.pulse("C-tiny", [0], [], kind="enps")
    digest = await build(db)
    assert digest.overall.employees.participation.value == 7 == sum((digest.enps_distribution or {}).values())
    assert team(digest, "C-a").employees.participation.value == 3
    tiny = team(digest, "C-tiny").employees.participation
    assert tiny.hidden and not tiny.absent  # reads hidden, and counts in no total


async def test_area_rows_and_team_volumes_hide_the_same_areas(db: Database) -> None:
    """Was: rows for "Mobile" (2) and "mobile" (2) hid, C-mob showed 4, web showed 3: 8 − 3 − 4 was the one item
    with no area. And of two areas of 3 last week, the rows hid one and the team of the other showed it."""
    world = World(db)
    await world.station("C-mob", ["mobile"])
    await world.station("C-web", ["web"])
    await world.feedback(None)
    for area, count in (("Mobile", 2), ("mobile", 2), ("web", 3)):
        for _ in range(count):
            await world.feedback(area)
    for area, count in ((None, 1), ("mobile", 3), ("web", 3)):
        for _ in range(count):
            await world.feedback(area, this_week=False)
    digest = await build(db)
    overall = digest.overall.customers
    assert "Mobile" not in overall.by_area and overall.by_area["mobile"].n == 4  # one row per area as teams hear it
    rows = list(overall.by_area.values())
    for scope in digest.teams:
        volume = scope.customers.volume
        assert not any(0 < rest < MINIMUM for rest in reader_rests(overall.volume, [*rows, volume]))
        if volume.previous is not None:
            shown_before = [r.prev_n for r in rows if r.previous is not None]
            assert not 0 < overall.volume.prev_n - sum(shown_before) - volume.prev_n < MINIMUM


async def test_a_teams_source_rows_do_not_give_a_small_areas_sources_away(db: Database) -> None:
    """Was: the overall's email 7 minus C-pay's 5 (it hears checkout only) gave reports' 2 email items, because
    C-both (checkout and reports) overlapped C-pay and the teams' sum of sources exceeded the overall's."""
    world = World(db)
    await world.station("C-pay", ["checkout"])
    await world.station("C-both", ["checkout", "reports"])
    for source, count in (("email", 5), ("helpdesk", 6)):
        for _ in range(count):
            await world.feedback("checkout", 4, "csat", source=source)
    for source in ("email", "email", "helpdesk"):
        await world.feedback("reports", 1, "csat", source=source)
    digest = await build(db)
    for source in ("email", "helpdesk"):
        total = digest.overall.customers.by_source[source]
        rows = [t.customers.by_source[source] for t in digest.teams if source in t.customers.by_source]
        assert not any(0 < rest < MINIMUM for rest in reader_rests(total, rows)), source
        shown = [r.n for r in rows if not r.hidden]
        assert all(a == b or abs(a - b) >= MINIMUM for a in shown for b in shown), source


async def test_the_workload_change_does_not_come_back_through_the_pulse_score(db: Database) -> None:
    """Was: C-a's workload change hid (4 answers against 3), but its pulse score showed a previous of 75 — last
    week the workload question was all there was — and 4 × 56.25 − 3 × 75 = 0, the new person's “1”."""
    world = World(db)
    await world.pulse("C-a", [4, 4, 4, 1], [4, 4, 4])
    await world.pulse("C-a", [3, 3, 3], [], prompt="How was the offsite?")
    await world.pulse("C-b", [5, 5, 5], [5, 5, 5])
    digest = await build(db)
    for scope in (team(digest, "C-a"), digest.overall):
        assert scope.employees.workload.previous is None and scope.employees.score.previous is None, scope.name


async def test_one_items_time_to_first_reaction_is_not_isolated(db: Database) -> None:
    """Was: the overall's mean over 9 items reacted to, minus C-a's 5 and C-b's 3, was C-c's one item: 37 h."""
    world = World(db)
    for channel in ("C-a", "C-b", "C-c"):
        await world.station(channel, ["x"])
    items = [await world.feedback("x") for _ in range(12)]
    for index in range(5):
        await world.engage("C-a", f"a{index % 3}", items[index], hours=2)
    for index in range(5, 8):
        await world.engage("C-b", f"b{index % 3}", items[index], hours=4)
    for person, hours in (("c0", 37), ("c1", 40), ("c2", 41)):
        await world.engage("C-c", person, items[8], hours=hours)
    digest = await build(db)
    hours = [t.bridge.first_reaction_hours for t in digest.teams]
    assert not any(0 < rest < MINIMUM for rest in reader_rests(digest.overall.bridge.first_reaction_hours, hours))


async def test_a_teams_volume_minus_its_shown_sources_does_not_give_a_small_cell_away(db: Database) -> None:
    """Was: C-y (area y: 10 survey, 5 email) showed 15 items and email 5, so survey 10; the overall's survey 11
    minus that was area x's one survey item. Now no shown row, nor the team's volume minus its shown rows, is
    a small part of the overall's rows (with every row hidden, the limit in docs/digest.md remains)."""
    world = World(db)
    await world.station("C-y", ["y"])
    for area, source, count in (("y", "survey", 10), ("y", "email", 5), ("x", "survey", 1), ("x", "chat", 3)):
        for _ in range(count):
            await world.feedback(area, source=source)
    digest = await build(db)
    y = team(digest, "C-y").customers
    hidden = [s for s, f in y.by_source.items() if f.hidden]
    derivable = (y.volume.n - sum(f.n for f in y.by_source.values() if not f.hidden)) if not y.volume.hidden else 0
    overall_rows = digest.overall.customers.by_source
    outside = sum(overall_rows[s].n for s in hidden if not overall_rows[s].hidden) - derivable
    assert not 0 < outside < MINIMUM or len(hidden) == len(y.by_source)
    for source, f in y.by_source.items():
        if not f.hidden and not overall_rows[source].hidden:
            assert not 0 < overall_rows[source].n - f.n < MINIMUM, source


async def test_quotes_carry_no_reaction_counts(everything: Digest) -> None:
    """Was: the overall's “1 reaction” on an item no shown team had reacted to was a hidden team's reaction."""
    from bot.digests.card import digest_card
    from bot.digests.html_page import digest_html
    from bot.digests.markdown import digest_markdown

    assert everything.overall.customers.quotes
    quote_lines = [line for line in digest_markdown(everything).splitlines() if line.startswith("> —")]
    assert quote_lines and not any("reaction" in line for line in quote_lines)
    assert "reaction</small>" not in digest_html(everything, []) and "reactions</small>" not in digest_html(
        everything, [])
    assert not any("reaction" in " ".join(getattr(b, "items", ())) for b in digest_card(everything, []).blocks)


async def test_the_change_rule_holds_for_each_question_behind_a_figure(db: Database) -> None:
    """Was: one more person answering three questions made 12 answers against 9, 3 apart, so the change showed:
    (12 × 56.25 − 9 × 75) / 3 = 0 was that person's answers."""
    world = World(db)
    for prompt in ("How was the week?", "How is the team?", "How are the tools?"):
        await world.pulse("C-a", [4, 4, 4, 1], [4, 4, 4], prompt=prompt)
    await world.pulse("C-b", [5, 5, 5], [5, 5, 5], prompt="How was the week?")
    digest = await build(db)
    for scope in (team(digest, "C-a"), digest.overall):
        assert scope.employees.score.previous is None, scope.name
    assert digest.trend[-2].score.hidden


async def test_a_scores_other_questions_can_not_be_subtracted_into_one_answers_pull(db: Database) -> None:
    """Was: score (10 against 6 answers) and workload (6 against 3) both showed changes; the other question,
    4 against 3, came out as their difference."""
    world = World(db)
    await world.pulse("C-a", [4, 4, 4, 4, 4, 4], [3, 3, 3])
    await world.pulse("C-a", [4, 4, 4, 1], [4, 4, 4], prompt="How was the offsite?")
    digest = await build(db)
    a = team(digest, "C-a").employees
    assert a.workload.previous is not None and a.score.previous is None


async def test_engagement_after_the_week_belongs_to_a_later_digest(db: Database) -> None:
    """Was: a claim made the Monday after the week counted in the overall's claimed share, next to no claims."""
    world = World(db)
    await world.station("C-a", ["x"])
    await world.station("C-b", ["x"])
    items = [await world.feedback("x") for _ in range(10)]
    for person in range(3):
        await world.engage("C-a", f"a{person}", items[person])
    await world.engage("C-b", "b0", items[9], kind="claim", hours=24 * 6)  # next Tuesday
    everything = await build_digest(db, WEEK, Privacy(1, 1), Redactor())
    assert everything.overall.bridge.claims.value == 0
    assert everything.overall.bridge.claimed_share.value == 0 and everything.overall.bridge.seen_share.value == 30


async def test_comment_theme_counts_are_not_in_the_csv(everything: Digest) -> None:
    import csv
    import io

    from bot.digests.csv_export import digest_csv

    text = digest_csv(everything).decode("utf-8-sig")
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["metric"] == "comment theme"]
    assert rows and all(r["value"] == "" for r in rows)  # the overall's minus a team's would be others' count
