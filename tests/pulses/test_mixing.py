"""Mixing anonymous answers (bot.pulses.mixing): after votes, nothing in how the answers are stored follows the
order people answered in or shares a transaction with the record of who answered, on both backends."""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.events import FormSubmitted, Person
from bot.pulses.mixing import mix_answers
from storage.engine import Database
from storage.tables import Response
from tests.pulses.support import command
from tests.pulses.support import vote as press
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

VOTERS = 40  # a random order matching the answer order (or nearly: |rank correlation| >= 0.8) is negligible
LINKED = 0.9  # before mixing, physical order follows answer order this closely at least


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db, EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="5")
    h.adapter.members["C1"] = [f"u{n}" for n in range(VOTERS)]
    await h.grant("boss", "manager")
    return h


async def launch(h: CoreHarness, spec: str) -> tuple[int, int]:
    """Launch a one-question pulse in C1; returns (run id, question id) from its card's first button."""
    before = len(h.adapter.sent)
    await command(h, spec)
    await h.deliver()
    card = next(s.card for s in h.adapter.sent[before:] if s.card.fallback.startswith("Pulse:"))
    action = next(b.buttons[0].action_id for b in card.blocks if b.type == "buttons")  # type: ignore[union-attr]
    _, _, run_id, question_id = action.split(":")
    return int(run_id), int(question_id)


async def answer_in_words(h: CoreHarness, run_id: int, question_id: int, user: str, words: str,
                          value: str | None = None) -> None:
    """Answer through the form: free text, or `value` with a comment."""
    responder = RecordingResponder()
    values = {"comment": words} if value is None else {"answer": value, "comment": words}
    form = FormSubmitted(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user), channel_id=None,
                         form_id=f"pulse-answer:{run_id}:{question_id}", values=values)
    assert await h.core.handle(form, responder) is None
    assert "answer is in" in responder.last_text


async def vote(h: CoreHarness, run_id: int, question_id: int, user: str, value: str) -> None:
    responder = await press(h, user, f"pulse:vote:{run_id}:{question_id}", value)
    assert "answer is in" in responder.last_text or "Recorded" in responder.last_text


async def answer_one_by_one(h: CoreHarness, run_id: int, question_id: int) -> None:
    """VOTERS anonymous answers, each in its own batch (its own transaction), numbered in answer order."""
    for n in range(VOTERS):
        await answer_in_words(h, run_id, question_id, f"u{n}", f"wish {n:02d}")


def rank_correlation(order: list[int]) -> float:
    """Spearman's rho between positions 0..n-1 and the answer numbers found there (a permutation)."""
    n = len(order)
    return 1 - 6 * sum((position - number) ** 2 for position, number in enumerate(order)) / (n * (n * n - 1))


async def postgres_links(db: Database, run_id: int) -> tuple[list[int], int]:
    """(answer numbers in physical order, how many answers share a transaction id with a participation)."""
    async with db.session() as session:
        connection = await session.connection()
        answers = (await connection.execute(text(
            "SELECT comment, xmin::text FROM response WHERE run_id = :run ORDER BY ctid"), {"run": run_id})).all()
        who = {xmin for (xmin,) in await connection.execute(text(
            "SELECT xmin::text FROM participation WHERE run_id = :run"), {"run": run_id})}
    return [int(comment.split()[1]) for comment, _ in answers], sum(xmin in who for _, xmin in answers)


def sqlite_layouts(db_url: str, copy: Path, numbers: dict[str, int]) -> dict[str, list[int]]:
    """Answer numbers in the physical order of the answers' cells (file offset) in each b-tree of `response`
    (the table and its indexes), read from a page-for-page copy of the database file."""
    with sqlite3.connect(db_url.split("///", 1)[1]) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # copies the pages as they are, WAL included
    with sqlite3.connect(copy) as target:
        page_size = target.execute("PRAGMA page_size").fetchone()[0]
        trees = [name for (name,) in target.execute(
            "SELECT name FROM sqlite_master WHERE tbl_name = 'response' AND type IN ('table', 'index')")]
        leaves = {name: [page for (page,) in target.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (name,))]
            for name in trees}
    data = copy.read_bytes()
    copy.unlink()
    layouts = {}
    for name, pages in leaves.items():
        found = []
        for page in pages:
            start = (page - 1) * page_size
            content = data[start:start + page_size]
            found += [(start + content.find(key.encode()), number) for key, number in numbers.items()
                      if key.encode() in content]
        if found:
            layouts[name] = [number for _, number in sorted(found)]
    return layouts


async def sqlite_links(db: Database, db_url: str, tmp_path: Path, run_id: int) -> dict[str, list[int]]:
    async with db.session() as session:
        rows = (await session.exec(select(Response.id, Response.comment).where(Response.run_id == run_id))).all()
    numbers = {id_: int((comment or "").split()[1]) for id_, comment in rows}
    layouts = sqlite_layouts(db_url, tmp_path / "copy.db", numbers)
    assert "response" in layouts and all(len(order) == VOTERS for order in layouts.values()), layouts
    return layouts


def assert_unlinked(order: list[int]) -> None:
    assert sorted(order) == list(range(VOTERS))  # every answer, once
    assert order not in (list(range(VOTERS)), list(reversed(range(VOTERS))))
    assert abs(rank_correlation(order)) < 0.8, order


async def test_votes_are_mixed_by_the_refresh_that_follows_them(harness: CoreHarness, db_url: str,
                                                                tmp_path: Path) -> None:
    run_id, question_id = await launch(harness, '"One wish?" text anonymous')
    await answer_one_by_one(harness, run_id, question_id)
    await harness.deliver()  # waits for the card refreshes the votes scheduled, which mix
    if db_url.startswith("postgresql"):
        order, shared = await postgres_links(harness.db, run_id)
        assert shared == 0  # no answer carries the transaction id of any participation
        assert_unlinked(order)
    else:
        for order in (await sqlite_links(harness.db, db_url, tmp_path, run_id)).values():
            assert_unlinked(order)


async def test_closing_mixes_what_no_refresh_did(harness: CoreHarness, db_url: str, tmp_path: Path) -> None:
    harness.features.pulses.pulses.refresh_soon = lambda run_id: None  # type: ignore[method-assign]
    run_id, question_id = await launch(harness, '"One wish?" text anonymous')
    await answer_one_by_one(harness, run_id, question_id)
    # unmixed, the storage gives the order of answering away: the checks below can fail
    if db_url.startswith("postgresql"):
        order, shared = await postgres_links(harness.db, run_id)
        assert shared == VOTERS and rank_correlation(order) > LINKED
    else:
        layouts = await sqlite_links(harness.db, db_url, tmp_path, run_id)
        assert abs(rank_correlation(layouts["response"])) > LINKED
    assert await harness.features.pulses.pulses.close(run_id)
    if db_url.startswith("postgresql"):
        order, shared = await postgres_links(harness.db, run_id)
        assert shared == 0
        assert_unlinked(order)
    else:
        for order in (await sqlite_links(harness.db, db_url, tmp_path, run_id)).values():
            assert_unlinked(order)


async def snapshot(db: Database, run_id: int) -> list[tuple[Any, ...]]:
    """Every answer of a run with, on PostgreSQL, its transaction id and place."""
    columns = "*" if db.is_sqlite else "xmin::text, ctid::text, *"
    async with db.session() as session:
        connection = await session.connection()
        rows = await connection.execute(text(f"SELECT {columns} FROM response WHERE run_id = :run"), {"run": run_id})
        return sorted(tuple(row) for row in rows.all())


async def test_mixing_keeps_every_answer_and_only_touches_its_anonymous_run(harness: CoreHarness) -> None:
    harness.features.pulses.pulses.refresh_soon = lambda run_id: None  # type: ignore[method-assign]
    mixed_run, mixed_question = await launch(harness, '"How is it?" scale anonymous comment')
    other_run, other_question = await launch(harness, '"And the week?" scale anonymous')
    for n in range(12):
        await vote(harness, mixed_run, mixed_question, f"u{n}", str(n % 5 + 1))
        await vote(harness, other_run, other_question, f"u{n}", str(n % 3 + 1))
    await answer_in_words(harness, mixed_run, mixed_question, "u20", "Меньше встреч 🙏", value="2")

    async def answers(run_id: int) -> Counter[tuple[Any, ...]]:
        async with harness.db.session() as session:
            rows = await session.exec(select(Response).where(Response.run_id == run_id))
            return Counter((r.id, r.question_id, r.respondent_id, r.value, r.comment, r.answered_on) for r in rows)

    before, mixed, other = await answers(mixed_run), await snapshot(harness.db, mixed_run), await snapshot(
        harness.db, other_run)
    assert sum(before.values()) == 13 and Counter(key[3] for key in before.elements()) == Counter(
        {"1": 3, "2": 4, "3": 2, "4": 2, "5": 2})
    async with harness.db.write() as session:
        assert await mix_answers(session, mixed_run) == 13
        await session.commit()
    assert await answers(mixed_run) == before  # same answers: values, comments, days and ids
    assert all(key[0].startswith(f"{mixed_run:08x}r") and len(key[0]) == 32 for key in before)  # kept together
    assert await snapshot(harness.db, other_run) == other  # another run's answers are not touched
    if not harness.db.is_sqlite:  # the mixed run's answers were written again, by the mixing transaction
        (xmin,) = {row[0] for row in await snapshot(harness.db, mixed_run)}
        assert xmin not in {row[0] for row in mixed}


async def test_mixing_leaves_named_pulses_alone(harness: CoreHarness) -> None:
    run_id, question_id = await launch(harness, '"Lunch at noon?" yesno')
    for n in range(6):
        await vote(harness, run_id, question_id, f"u{n}", "yes" if n % 2 else "no")
    await harness.deliver()
    before = await snapshot(harness.db, run_id)
    assert len(before) == 6 and all(row[-4] for row in before)  # named: respondent ids
    async with harness.db.write() as session:
        assert await mix_answers(session, run_id) == 0
        await session.commit()
    assert await snapshot(harness.db, run_id) == before  # on PostgreSQL: same transaction ids and places too
    assert await harness.features.pulses.pulses.close(run_id)
    assert await snapshot(harness.db, run_id) == before


async def test_a_long_burst_is_mixed_every_half_minute_and_when_the_votes_pause(harness: CoreHarness) -> None:
    from datetime import timedelta

    from bot.pulses.service import MIX_EVERY

    pulses = harness.features.pulses.pulses
    now = harness.core.services.clock()
    assert pulses._mixing_due(7)  # the votes paused: none since this round began
    pulses._voted.update({7, 8})  # votes arrived while the rounds counted
    assert not pulses._mixing_due(8)  # a burst's first refresh: more votes coming, mixing waits
    pulses._mixed_at[7] = now
    assert not pulses._mixing_due(7)  # more votes coming, mixed a moment ago: a later round mixes
    pulses._mixed_at[7] = now - MIX_EVERY - timedelta(seconds=1)
    assert pulses._mixing_due(7)  # a burst still going on after MIX_EVERY: mix now
