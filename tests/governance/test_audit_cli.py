"""`earshot audit` and `earshot audit verify` through the real entry point, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, update
from sqlmodel import col, select

from adapters.cli import main
from bot.governance.audit import record
from storage.engine import Database
from storage.secrets import resolve_keys, split_keys
from storage.tables.audit import AuditEntry
from tests.pulses.support import MEMBERS, buttons, command, launched_card, vote
from tests.support.core import make_harness

NOW = datetime.now(UTC)
SEEDED = [  # actor, action, subject, details, days ago
    ("slack:U1", "pulse.exported", "pulse:3", {"format": "csv", "rows": 12}, 40),
    ("slack:U2", "role.granted", "slack:U9", {"role": "hr"}, 10),
    ("cli", "role.revoked", "slack:U9", {"role": "hr"}, 2),
    ("teams:29:abc", "digest.previewed", "=HYPERLINK(\"http://evil\")", {"format": "card"}, 1),
]


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def keys(db_url: str) -> tuple[str, ...]:
    return resolve_keys(db_url, split_keys(os.environ.get("EARSHOT_SECRET_KEY")))


def on_db(db_url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        db = Database(db_url)
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()
    return asyncio.run(go())


def seed(db_url: str) -> None:
    async def work(session):  # type: ignore[no-untyped-def]
        for actor, action, subject, details, days in SEEDED:
            await record(session, keys(db_url), actor=actor, action=action, subject=subject, details=details,
                         at=NOW - timedelta(days=days))
    on_db(db_url, work)


def stored(db_url: str) -> list[AuditEntry]:
    async def work(session):  # type: ignore[no-untyped-def]
        return list(await session.exec(select(AuditEntry).order_by(col(AuditEntry.id))))
    return on_db(db_url, work)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lists_every_entry_with_its_hashes_and_the_reading_is_recorded(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(cli)
    code, out, _ = run(capsys, "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [entry["action"] for entry in listed] == [row[1] for row in SEEDED] + ["audit.read"]
    first = listed[0]
    assert first["actor"] == "slack:U1" and first["details"] == {"format": "csv", "rows": 12}
    assert first["id"] == 1 and len(first["hash"]) == 64 and listed[1]["prev_hash"] == first["hash"]
    last = stored(cli)[-1]
    assert (last.actor, last.action, last.subject) == ("cli", "audit.read", "audit_log")
    assert last.details["format"] == "json"


def test_an_empty_log_is_an_empty_json_array_but_for_the_reading(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "--format", "json", "--action", "pulse.")
    assert code == 0 and json.loads(out) == []


def test_csv_has_fixed_columns_and_neutralised_formulas(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(cli)
    code, out, _ = run(capsys, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out.removeprefix("\ufeff"))))
    assert rows[0] == ["id", "at", "workspace", "actor", "action", "subject", "details", "prev_hash", "hash"]
    assert len(rows) == 1 + len(SEEDED) + 1
    assert rows[4][5] == "'=HYPERLINK(\"http://evil\")"
    assert json.loads(rows[1][6]) == {"format": "csv", "rows": 12}


def test_filters_by_time_person_and_action(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(cli)

    def actions(*argv: str) -> list[str]:
        code, out, _ = run(capsys, "--format", "json", *argv)
        assert code == 0
        return [entry["action"] for entry in json.loads(out)]

    assert actions("--since", "7d", "--action", "role.") == ["role.revoked"]
    assert actions("--since", (NOW - timedelta(days=11)).strftime("%Y-%m-%d"), "--action", "r") == [
        "role.granted", "role.revoked"]
    assert actions("--who", "slack:U1") == ["pulse.exported"]
    assert actions("--who", "teams:29:abc") == ["digest.previewed"]
    assert actions("--action", "role.") == ["role.granted", "role.revoked"]
    assert actions("--action", "role_") == []  # an underscore is a character, not a wildcard
    assert actions("--who", "cli", "--action", "audit.") == ["audit.read"] * 7  # every reading so far


@pytest.mark.parametrize("argv", [["--since", "last week"], ["--who", "U123"], ["--action", "Role%"],
                                  ["--format", "xml"], ["verify", "--expect-head", "12"]])
def test_wrong_arguments_get_a_message_not_a_traceback(cli: str, capsys, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exit_:
        main(["audit", *argv])
    assert exit_.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_the_table_is_readable_and_prints_no_control_characters(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    async def work(session):  # type: ignore[no-untyped-def]
        await record(session, keys(cli), actor="slack:U1", action="source.added", subject="source:\x1b]0;pwned\x07")
    on_db(cli, work)
    code, out, _ = run(capsys)
    assert code == 0
    header, line = out.splitlines()[:2]
    assert header.split()[:5] == ["id", "at", "(UTC)", "workspace", "actor"]
    assert "source.added" in line and "\x1b" not in out and "\x07" not in out


def test_verify_passes_an_intact_log_and_prints_its_head(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(cli)
    code, out, _ = run(capsys, "verify")
    assert code == 0
    head = stored(cli)[len(SEEDED) - 1]
    assert f"{len(SEEDED)} entries checked" in out and f"head: {head.id}:{head.hash}" in out
    code, out, _ = run(capsys, "verify", "--expect-head", f"{head.id}:{head.hash}")
    assert code == 0
    assert stored(cli)[-1].action == "audit.verified"


def test_verify_finds_an_edited_entry(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(cli)

    async def edit(session):  # type: ignore[no-untyped-def]
        await session.exec(update(AuditEntry).where(col(AuditEntry.id) == 2).values(actor="slack:U3"))
    on_db(cli, edit)
    code, _, err = run(capsys, "verify")
    assert code == 1
    assert "TAMPERED" in err and "entry 2 was altered" in err


def test_verify_with_the_noted_head_finds_the_newest_entries_deleted(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(cli)
    code, out, _ = run(capsys, "verify")
    head = next(line for line in out.splitlines() if line.startswith("head: ")).removeprefix("head: ")

    async def cut(session):  # type: ignore[no-untyped-def]
        await session.exec(delete(AuditEntry).where(col(AuditEntry.id) >= 3))
    on_db(cli, cut)
    assert run(capsys, "verify")[0] == 0
    code, _, err = run(capsys, "verify", "--expect-head", head)
    assert code == 1 and "newest entries were deleted" in err


def test_role_changes_are_the_history_a_revoke_no_longer_keeps(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["roles", "grant", "slack:U5", "hr"]) == 0
    assert main(["roles", "revoke", "slack:U5", "hr"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "--format", "json", "--action", "role.")
    assert code == 0
    assert [(entry["actor"], entry["action"], entry["subject"], entry["details"]) for entry in json.loads(out)] == [
        ("cli", "role.granted", "slack:U5", {"role": "hr"}), ("cli", "role.revoked", "slack:U5", {"role": "hr"})]


def test_verify_keeps_the_head_in_its_entry_and_in_the_logs(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    """The head lands outside the database too (the process's log), where deleting the newest entries can't reach."""
    seed(cli)
    code, _, err = run(capsys, "verify")
    assert code == 0
    head = stored(cli)[len(SEEDED) - 1]
    last = stored(cli)[-1]
    assert last.action == "audit.verified" and last.details["head"] == f"{head.id}:{head.hash}"
    assert f"head {head.id}:{head.hash}" in err and "audit log verified: intact" in err


def test_an_empty_log_is_not_taken_for_a_new_one(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    seed(cli)
    code, out, _ = run(capsys, "verify")
    head = next(line for line in out.splitlines() if line.startswith("head: ")).removeprefix("head: ")

    async def wipe(session):  # type: ignore[no-untyped-def]
        await session.exec(delete(AuditEntry))
    on_db(cli, wipe)
    code, out, err = run(capsys, "verify")
    assert code == 0 and "the audit log was empty" in out
    assert "every entry was deleted" in err and "--expect-head" in err
    assert stored(cli)[-1].details["head"] is None
    on_db(cli, wipe)
    code, _, err = run(capsys, "verify", "--expect-head", head)
    assert code == 1 and "newest entries were deleted" in err


def test_every_workspace_is_listed_with_its_entries(cli: str, capsys) -> None:  # type: ignore[no-untyped-def]
    async def work(session):  # type: ignore[no-untyped-def]
        await record(session, keys(cli), actor="slack:U1", action="pulse.exported", subject="pulse:1", workspace="T1")
        await record(session, keys(cli), actor="slack:U2", action="pulse.exported", subject="pulse:2", workspace="T2")
    on_db(cli, work)
    code, out, _ = run(capsys, "--format", "json")
    assert code == 0
    assert [entry["workspace"] for entry in json.loads(out)] == ["T1", "T2", None]
    code, out, _ = run(capsys)
    assert code == 0 and out.splitlines()[1].split()[3] == "T1"


async def test_giving_up_sealed_answers_is_recorded(db: Database, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`earshot db forget-sealed --yes` gives up anonymous answers for good: who did it and how many is audited
    (a count only); counting them without --yes records nothing."""
    harness = make_harness(db, EARSHOT_ANON_MIN="3")
    harness.adapter.members["C1"] = list(MEMBERS)
    await harness.grant("boss", "manager")
    await command(harness, '"Energy?" scale anonymous')
    action = buttons(await launched_card(harness))[0][0]
    for user in MEMBERS[:2]:
        await vote(harness, user, action, "3")
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("EARSHOT_SECRET_KEY", Fernet.generate_key().decode())  # the key they were sealed with is lost
    assert await asyncio.to_thread(main, ["db", "forget-sealed"]) == 0
    async with db.session() as session:
        assert (await session.exec(select(AuditEntry).where(AuditEntry.action == "pulse.sealed_forgotten"))).all() == []
    assert await asyncio.to_thread(main, ["db", "forget-sealed", "--yes"]) == 0
    assert "gave up 2 anonymous answers" in capsys.readouterr().out
    async with db.session() as session:
        (entry,) = (await session.exec(select(AuditEntry).where(AuditEntry.action == "pulse.sealed_forgotten"))).all()
    assert (entry.actor, entry.subject, entry.details) == ("cli", "sealed_answers", {"answers": 2})
