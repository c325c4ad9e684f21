"""Registering sources on SQLite and PostgreSQL: names, sealed secrets, secret-URL tokens, removal, and hourly
tallies that add up across flushes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from adapters.sources.registry import (
    SourceExists,
    Tallies,
    add_source,
    get_source,
    load_registered,
    name_problem,
    remove_source,
    secret_box,
)
from bot.feedback.sources import source_views
from storage.engine import Database
from storage.tables import SourceTally
from tests.sources.fixture_kinds import SIGNED, URLONLY

KEY = Fernet.generate_key().decode()
NOW = datetime(2026, 12, 7, 15, 20, tzinfo=UTC)


@pytest.mark.parametrize("name", ["a", "typeform-nps", "zendesk_eu2", "x" * 64, "2026-survey"])
def test_good_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize("name, hint", [
    ("", None), ("Typeform NPS", "typeform-nps"), ("../etc", "etc"), ("a/b", "a-b"), ("ｔｙｐｅｆｏｒｍ", None),
    ("-x", "x"), ("x_", "x"), ("x" * 65, "x" * 64), ("naïve", "na-ve"), ("tool\n", "tool"), ("tool%2F", "tool-2f"),
])
def test_unsafe_names_are_refused_with_a_hint(name: str, hint: str | None) -> None:
    problem = name_problem(name)
    assert problem is not None and "lowercase letters" in problem
    assert (f"(e.g. {hint})" in problem) if hint else "e.g." not in problem


async def test_a_source_is_stored_with_its_secrets_sealed_and_a_token_only_when_it_takes_a_url(db: Database) -> None:
    box = secret_box([KEY])
    assert await add_source(db, box, SIGNED, "tool-a", {"secret": "whsec-abc123"}, {"api_url": "http://x"}) is None
    token = await add_source(db, box, URLONLY, "hook", {}, {})
    assert token is not None and len(token) >= 43
    async with db.session() as session:
        row = await get_source(session, "tool-a")
        hook = await get_source(session, "hook")
    assert row is not None and hook is not None
    assert row.secrets.startswith("enc1:") and "whsec-abc123" not in row.secrets
    assert token not in hook.secrets and row.options == {"api_url": "http://x"}
    assert json.loads(box.open(row.secrets)) == {"secret": "whsec-abc123"}
    registered = await load_registered(db, box)
    assert registered["hook"].token == token and registered["tool-a"].token is None
    assert registered["tool-a"].config.secrets["secret"] == "whsec-abc123"
    with pytest.raises(SourceExists):
        await add_source(db, box, URLONLY, "hook", {}, {})
    with pytest.raises(ValueError, match="lowercase"):
        await add_source(db, box, URLONLY, "Hook", {}, {})


async def test_sources_whose_secrets_dont_open_are_left_out(db: Database) -> None:
    await add_source(db, secret_box([KEY]), SIGNED, "tool-a", {"secret": "s"}, {})
    assert await load_registered(db, secret_box([Fernet.generate_key().decode()])) == {}
    async with db.session() as session:
        (view,) = await source_views(session, secret_box([Fernet.generate_key().decode()]), NOW)
    assert view.sealed


async def test_tallies_add_up_across_flushes_and_hours_and_leave_with_their_source(db: Database) -> None:
    box = secret_box([KEY])
    await add_source(db, box, SIGNED, "tool-a", {"secret": "s"}, {})
    registered = await load_registered(db, box)
    source_id = registered["tool-a"].id
    tallies = Tallies()
    tallies.count(source_id, NOW, accepted=2, refused=1)
    tallies.count(source_id, NOW + timedelta(minutes=5), accepted=1, duplicates=1)
    tallies.count(source_id, NOW - timedelta(hours=30), accepted=50)  # outside the last 24 hours
    tallies.failed(source_id, NOW, "x" * 900)
    await tallies.flush(db)
    tallies.count(source_id, NOW, refused=3, updated=1, rejected=2)
    tallies.received(source_id, NOW)
    await tallies.flush(db)
    async with db.session() as session:
        (view,) = await source_views(session, box, NOW + timedelta(minutes=10))
        rows = list(await session.exec(select(SourceTally)))
    assert (view.counts.accepted, view.counts.updated, view.counts.duplicates, view.counts.rejected,
            view.counts.refused) == (3, 1, 1, 2, 4)
    assert len(rows) == 2 and view.last_received_at == NOW
    assert view.last_error == "x" * 500 and view.last_error_at == NOW
    assert await remove_source(db, "tool-a")
    assert not await remove_source(db, "tool-a")
    tallies.count(source_id, NOW, refused=1)  # counted as the source was removed: dropped, no error
    await tallies.flush(db)
    async with db.session() as session:
        assert list(await session.exec(select(SourceTally))) == []
