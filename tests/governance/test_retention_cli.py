"""`earshot db retention | purge | vacuum` through the real entry point, the settings' validation, and the daily
purge running on the scheduler's leader alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from adapters.cli import main
from adapters.runtime import PURGE_FIRST, Runtime
from bot.config import load_settings
from bot.governance.policy import KINDS
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import Feedback, Response
from storage.tables.audit import AuditEntry
from tests.governance.test_retention import KEYS, POLICY, plant

ENV = {kind.env: str(getattr(POLICY, kind.name)) for kind in KINDS}


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("EARSHOT_SECRET_KEY", KEYS[0])  # the key the planted audit entries are chained with
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return db_url


async def texts(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.session() as session:
            return sorted(item.text for item in (await session.exec(select(Feedback))).all())
    finally:
        await db.dispose()


async def planted(url: str) -> None:
    db = Database(url)
    try:
        await plant(db, now=utcnow())
    finally:
        await db.dispose()


def test_the_policy_in_effect_is_printed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EARSHOT_RETAIN_FEEDBACK_TEXT_DAYS", "never")
    monkeypatch.setenv("EARSHOT_RETAIN_DELIVERIES_DAYS", "400")
    assert main(["db", "retention"]) == 0
    out = capsys.readouterr().out
    for kind in KINDS:
        assert kind.env in out
    text = next(line for line in out.splitlines() if "EARSHOT_RETAIN_FEEDBACK_TEXT_DAYS" in line)
    assert "never" in text and "kept forever" in text
    cards = next(line for line in out.splitlines() if "EARSHOT_RETAIN_DELIVERIES_DAYS" in line)
    assert "400 days" in cards and "90 days" in cards  # kept no longer than the contact fields it may quote


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("EARSHOT_RETAIN_FEEDBACK_TEXT_DAYS", "a year", "'a year' is not a number of days"),
    ("EARSHOT_RETAIN_FILES_DAYS", "-1", "'-1' is not a number of days"),
    ("EARSHOT_RETAIN_AUDIT_DAYS", "1.5", "use a whole number like 730, or `never`"),
    ("EARSHOT_RETAIN_CHARTS_DAYS", "9999999", "over a hundred years"),
    ("EARSHOT_RETAIN_EVENT_KEYS_HOURS", "30m", "not a number of hours"),
])
def test_a_nonsense_period_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                               variable: str, value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["db", "retention"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"earshot: configuration error: {variable}: ") and message in err
    assert "Traceback" not in err


def test_never_and_zero_keep_forever() -> None:
    settings = load_settings(EARSHOT_RETAIN_FEEDBACK_TEXT_DAYS="Never", EARSHOT_RETAIN_FILES_DAYS="0")
    assert settings.retention.feedback_text is None and settings.retention.files is None
    assert settings.retention.cutoff("feedback_text", utcnow()) is None
    assert load_settings().retention.feedback_text == 365


def test_purge_dry_run_then_purge(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(planted(env))
    before = asyncio.run(texts(env))
    assert main(["db", "purge", "--dry-run"]) == 0
    planned = capsys.readouterr().out
    assert "would remove: customer_contact 2, feedback_text 1, pulse_runs 1, pulse_answers 6" in planned
    assert asyncio.run(texts(env)) == before
    assert main(["db", "purge", "--batch", "3"]) == 0
    captured = capsys.readouterr()
    assert "removed: customer_contact 2, feedback_text 1" in captured.out and "audit_entries 1" in captured.out
    assert "purging [" in captured.err
    assert "" in asyncio.run(texts(env))
    assert main(["db", "purge"]) == 0
    assert "nothing to remove" in capsys.readouterr().out

    async def audited() -> list[AuditEntry]:
        db = Database(env)
        try:
            async with db.session() as session:
                return list((await session.exec(select(AuditEntry).where(
                    AuditEntry.action == "retention.purged", AuditEntry.actor == "cli"))).all())
        finally:
            await db.dispose()

    entries = [entry for entry in asyncio.run(audited()) if entry.subject == ""]
    assert [entry.details["feedback_text"] for entry in entries] == [1, 0]


def test_a_bad_batch_is_refused(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["db", "purge", "--batch", "0"])
    assert "a whole number from 1 to 10000" in capsys.readouterr().err


def test_vacuum_on_postgres_says_what_to_run(postgres_url: str, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    assert main(["db", "vacuum"]) == 0
    out = capsys.readouterr().out
    assert "VACUUM FULL" in out and "autovacuum" in out.lower()


async def test_only_the_leader_purges(env: str) -> None:
    """Two workers on one database: the standby's purge never fires; the leader's does, first a few minutes
    after it starts, then daily."""
    await planted(env)
    settings = load_settings(EARSHOT_SANDBOX=False)
    first, second = Runtime(settings, role="worker"), Runtime(settings, role="worker")
    await first.start()
    await second.start()
    try:
        assert first.leadership.leading and not second.leadership.leading
        job = first.scheduler.get_job("retention-purge")
        assert job.next_run_time <= datetime.now(UTC) + PURGE_FIRST
        assert job.trigger.interval == timedelta(days=1)
        _fire(second)
        await asyncio.sleep(1.0)
        assert "" not in await texts(env)  # the standby's scheduler is paused
        _fire(first)
        for _ in range(100):
            if "" in await texts(env):
                break
            await asyncio.sleep(0.1)
        assert "" in await texts(env)
        async with first.db.session() as session:
            assert len((await session.exec(select(Response))).all()) == 12
    finally:
        await second.stop()
        await first.stop()


def _fire(runtime: Runtime) -> None:
    runtime.scheduler.modify_job("retention-purge", next_run_time=datetime.now(runtime.scheduler.timezone))
