"""A team whose stations take only part of the feedback its figures count (a detractors-only #support) is told
what it received, beside those figures, which say what they count (issue 16, point 14)."""

from __future__ import annotations

from html import unescape

import pytest

from bot.digests.build import Privacy, _narrowed_items, build_digest
from bot.digests.card import digest_card
from bot.digests.html_page import digest_html
from bot.digests.markdown import digest_markdown
from bot.digests.model import Digest
from bot.feedback.redact import Redactor
from storage.engine import Database
from tests.digests.conftest import WEEK, team
from tests.digests.world import World

DETRACTORS_NOW = [(0, "ชำระเงินไม่ได้เลย"), (2, "ชำระเงินไม่ได้ แอปค้าง"), (3, "แอปค้างตลอด"), (5, "ส่งของช้ามาก"),
                  (6, "ชำระเงินไม่ได้ ช้ามาก"), (1, "refund never came")]


async def feed(db: Database) -> World:
    """13 items this week (6 detractors, 5 promoters, 2 app-store ratings), 8 last week (4 detractors)."""
    world = World(db)
    await world.station("C-all", [], filters={})
    await world.station("C-support", [], filters={"nps": ["detractor"]})
    await world.station("C-store", [], filters={"sources": ["appstore"]})
    await world.station("C-survey", [], filters={"sources": ["survey"]})
    await world.station("C-checkout", ["checkout"])
    for score, text in DETRACTORS_NOW:
        await world.feedback("checkout", score, "nps", text)
    for _ in range(5):
        await world.feedback("checkout", 10, "nps", "great")
    for _ in range(2):
        await world.feedback("checkout", 5, "csat", "fine", source="appstore")
    for score in (1, 2, 3, 4):
        await world.feedback("checkout", score, "nps", "slow", this_week=False)
    for _ in range(4):
        await world.feedback("checkout", 8, "nps", "ok", this_week=False)
    return world


@pytest.fixture
async def heard_digest(db: Database) -> Digest:
    await feed(db)
    return await build_digest(db, WEEK, Privacy(3, 4), Redactor())


async def test_a_detractors_only_team_is_told_what_it_received(heard_digest: Digest) -> None:
    support = team(heard_digest, "C-support").customers
    assert support.volume.value == 13  # its figures still count all feedback…
    heard = support.heard
    assert heard is not None  # …and say so, beside what it received
    assert (heard.items.value, heard.items.previous) == (6, 4)
    assert heard.share.value == pytest.approx(100 * 6 / 13)
    assert heard.mean_nps_answer.value == pytest.approx(17 / 6)
    assert (heard.takes, heard.counts) == ("NPS detractors", "all feedback")
    assert [t.phrase for t in heard.themes] == ["ชำระเงินไม่ได้", "แอปค้าง", "ช้า"]


async def test_teams_hearing_all_of_their_areas_need_no_note(heard_digest: Digest) -> None:
    assert team(heard_digest, "C-all").customers.heard is None
    assert team(heard_digest, "C-checkout").customers.heard is None
    assert team(heard_digest, "C-checkout").customers.volume.value == 13


async def test_what_a_team_received_hides_under_the_minimum(heard_digest: Digest) -> None:
    store = team(heard_digest, "C-store").customers.heard
    assert store is not None and store.items.hidden and store.share.hidden and store.themes == []


async def test_what_a_team_received_hides_when_the_rest_of_its_rows_would_be_a_small_group(
        heard_digest: Digest) -> None:
    """11 of the 13 items are the survey's: showing 11 beside the volume of 13 would give the 2 app-store
    ratings away, which their own row hides."""
    survey = team(heard_digest, "C-survey").customers
    assert survey.by_source["appstore"].hidden and survey.volume.value == 13
    assert survey.heard is not None and survey.heard.items.hidden and survey.heard.themes == []


async def test_every_format_says_what_the_team_received_and_what_its_rows_count(heard_digest: Digest) -> None:
    said = ("#C-support's station takes NPS detractors. It received 6 (▲ 2) items this week, 46% of all feedback; "
            "their average NPS answer was 2.8 of 10. Its customer rows count all feedback, not only what it "
            "received.")
    html = unescape(digest_html(heard_digest, []))
    assert said in html
    assert "Themes of what it received: <span dir=\"auto\">ชำระเงินไม่ได้</span> (3)" in html
    assert "#C-store's station takes source appstore. What it received this week: hidden." in html
    assert said.replace("#", "\\#") in digest_markdown(heard_digest)
    lines = next(b.text for b in digest_card(heard_digest, []).blocks if getattr(b, "text", "").startswith("Teams"))
    support = next(line for line in lines.splitlines() if line.startswith("#C-support:"))
    assert support.startswith("#C-support: received 6 (▲ 2) (NPS detractors) · avg NPS answer 2.8/10 · ")
    assert "NPS −" not in support and "feedback 13" not in support


async def test_the_average_answer_heard_hides_when_the_rest_of_the_teams_answers_would_be_a_small_group(
        db: Database) -> None:
    """8 NPS answers, 6 of them detractors: the team's NPS of all 8 beside the average of the 6 it heard would
    give the other 2 answers away, though the 6 items (and the 6 left over) show."""
    world = World(db)
    await world.station("C-support", [], filters={"nps": ["detractor"]})
    for score in (0, 1, 2, 3, 4, 5):
        await world.feedback("checkout", score, "nps")
    for score in (9, 10):
        await world.feedback("checkout", score, "nps")
    for _ in range(4):
        await world.feedback("checkout", 5, "csat", source="appstore")
    support = team(await build_digest(db, WEEK, Privacy(3, 4), Redactor()), "C-support").customers
    assert support.volume.value == 12 and support.nps.n == 8
    assert support.heard is not None and support.heard.items.value == 6
    assert support.heard.mean_nps_answer.hidden


async def test_only_the_items_in_a_narrowed_teams_areas_are_read(db: Database) -> None:
    """The text of every item of two weeks is read only for the areas of teams that hear part of them: here
    checkout's (in any case), not billing's, which no narrowed team counts, nor those without an area."""
    world = World(db)
    await world.station("C-support", [], filters={"areas": ["checkout"], "nps": ["detractor"]})
    await world.station("C-billing", ["billing"])
    for area in ("checkout", "CHECKOUT", "billing", None):
        await world.feedback(area, 1, "nps", f"about {area}")
        await world.feedback(area, 9, "nps", f"about {area}", this_week=False)
    async with db.engine.connect() as conn:
        rows = await _narrowed_items(conn, [WEEK.previous.start, WEEK.start, WEEK.end], WEEK, None)
    assert sorted((r.week, r.product_area) for r in rows) == [(0, "CHECKOUT"), (0, "checkout"), (1, "CHECKOUT"),
                                                              (1, "checkout")]
    support = team(await build_digest(db, WEEK, Privacy(1, 1), Redactor()), "C-support").customers
    assert support.heard is not None and support.heard.items.value == 2  # the detractors, in either spelling
