"""Ways a reader could difference one digest into a group under the minimum, each closed: teams hearing
overlapping areas, flags, engagement shares over a hidden volume, the trend next to a hidden change, and the
pulse figures of a team whose participation is hidden. Minimum 3 throughout."""

from __future__ import annotations

import re

from sqlmodel import select

from bot.digests.build import Privacy, build_digest
from bot.digests.model import Digest
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
    await world.pulse("C-y", [4, 4, 4], [])  # 9 answers against 5: far enough apart to compare
    digest = await build(db)
    assert digest.trend[-2].score.value == 75 and digest.trend[-1].score.n == 9


async def test_a_team_hearing_two_areas_keeps_phrases_seen_once_in_each(db: Database) -> None:
    world = World(db)
    await world.station("C-both", ["a", "b"])
    for area, text in (("a", "refund is late"), ("a", "login ok"), ("a", "fine"), ("b", "refund is late again"),
                       ("b", "works"), ("b", "meh")):
        await world.feedback(area, text=text)
    digest = await build(db)
    assert [t.phrase for t in team(digest, "C-both").customers.themes] == [
        t.phrase for t in digest.overall.customers.themes] != []
