"""`earshot audit` (read or export the audit log) and `earshot audit verify` (check its hash chain).

Reading the log is itself recorded (`audit.read`, actor `cli`) before anything is printed, and so is a
verification (`audit.verified`)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any, TextIO

from bot.config import Settings
from bot.governance.audit import (
    Query,
    check_action_prefix,
    check_who,
    count,
    entries,
    parse_since,
    record,
    verify,
)
from bot.progress import Progress
from bot.spreadsheet import BOM, safe_cell
from storage.engine import Database
from storage.migrate import upgrade
from storage.secrets import resolve_keys
from storage.tables.audit import AuditEntry

COLUMNS = ("id", "at", "workspace", "actor", "action", "subject", "details", "prev_hash", "hash")
HEAD = re.compile(r"(\d{1,18}):([0-9a-f]{64})")
WIDTHS = (7, 20, 12, 24, 24, 22)


def add_audit_parser(commands: Any) -> None:
    """Hook `earshot audit …` into the main parser's subcommands."""
    audit = commands.add_parser(
        "audit", help="who read, exported or changed people data; `audit verify` checks nothing was altered",
        description="Print the audit log, oldest first (every entry unless filtered). Reading it is recorded "
        "too. See docs/governance.md.")
    audit.add_argument("--since", type=_argument(parse_since), metavar="YYYY-MM-DD|7d",
                       help="entries from that day (UTC), or from that long ago (12h, 7d, 4w)")
    audit.add_argument("--who", type=_argument(check_who), metavar="PLATFORM:USER_ID",
                       help="entries by this person (slack:U0123ABC, teams:…, sandbox:…), cli or system")
    audit.add_argument("--action", type=_argument(check_action_prefix), metavar="PREFIX",
                       help="actions starting with this (role., pulse.exported, erase.)")
    audit.add_argument("--format", choices=("table", "csv", "json"), default="table",
                       help="table (default, for reading), csv or json (every field, with the hashes)")
    audit.set_defaults(run=_list)
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    check = actions.add_parser("verify", help="check the hash chain: exit 0 intact, 1 altered or deleted entries",
                               description="Walk the whole audit log and check every entry's hash and link. "
                               "Prints the head (ID:HASH): keep it somewhere else, and pass it later with "
                               "--expect-head to find the newest entries deleted, which the chain alone can't show.")
    check.add_argument("--expect-head", type=_head, metavar="ID:HASH", help="a head printed by an earlier verify")
    check.set_defaults(run=_verify)


def _argument(check: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


def _head(value: str) -> tuple[int, str]:
    match = HEAD.fullmatch(value.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(f"“{value[:40]}” is not ID:HASH as `earshot audit verify` prints it")
    return int(match.group(1)), match.group(2)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_list_async(settings, args))


async def _list_async(settings: Settings, args: argparse.Namespace) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    keys = resolve_keys(settings.database_url, settings.secret_keys)
    query = Query(since=args.since, who=args.who, action=args.action)
    db = Database(settings.database_url)
    try:
        async with db.write() as session:  # recorded before anything is shown
            await record(session, keys, actor="cli", action="audit.read", subject="audit_log", details={
                "format": args.format, "since": args.since.isoformat() if args.since else None,
                "who": args.who, "action": args.action})
            await session.commit()
        async with db.session() as session:
            writer = _writer(args.format, sys.stdout)
            try:
                async for entry in entries(session, query):
                    writer(entry)
                writer(None)
                sys.stdout.flush()
            except BrokenPipeError:  # `earshot audit | head`: stop quietly
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        await db.dispose()
    return 0


def _writer(kind: str, out: TextIO) -> Callable[[AuditEntry | None], None]:
    """A function taking each entry in turn, then None at the end: the log is streamed, never held whole."""
    if kind == "csv":
        out.write(BOM)
        rows = csv.writer(out, lineterminator="\r\n")
        rows.writerow(COLUMNS)

        def csv_entry(entry: AuditEntry | None) -> None:
            if entry is not None:
                rows.writerow([safe_cell(value) for value in _fields(entry, flat=True)])
        return csv_entry
    if kind == "json":
        state = {"first": True}

        def json_entry(entry: AuditEntry | None) -> None:
            if entry is None:
                out.write("[]\n" if state["first"] else "\n]\n")
                return
            out.write(("[\n" if state["first"] else ",\n") + json.dumps(dict(zip(COLUMNS, _fields(entry), strict=True)),
                                                                        ensure_ascii=False))
            state["first"] = False
        return json_entry
    out.write(_row(("id", "at (UTC)", "workspace", "actor", "action", "subject", "details")) + "\n")

    def table_entry(entry: AuditEntry | None) -> None:
        if entry is not None:
            out.write(_row(_fields(entry, flat=True)[:7]) + "\n")
    return table_entry


def _fields(entry: AuditEntry, flat: bool = False) -> list[Any]:
    at = entry.at.strftime("%Y-%m-%d %H:%M:%S") if flat else entry.at.isoformat()
    details: Any = entry.details
    if flat:
        details = json.dumps(entry.details, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    workspace = (entry.workspace or "") if flat else entry.workspace
    return [entry.id, at, workspace, entry.actor, entry.action, entry.subject, details, entry.prev_hash, entry.hash]


def _row(values: tuple[Any, ...] | list[Any]) -> str:
    """One table line: each cell printable (no terminal control sequences from stored text), fixed widths."""
    cells = [_printable(str(value)) for value in values]
    parts = [cell.rjust(WIDTHS[0]) if index == 0 else _fit(cell, WIDTHS[index]) if index < len(WIDTHS) else cell
             for index, cell in enumerate(cells)]
    return "  ".join(parts).rstrip()


def _fit(cell: str, width: int) -> str:
    return (cell if len(cell) <= width else cell[:width - 1] + "…").ljust(width)


def _printable(text: str) -> str:
    return "".join(char if char.isprintable() else "\ufffd" for char in text)


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_verify_async(settings, args.expect_head))


async def _verify_async(settings: Settings, expect_head: tuple[int, str] | None) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    keys = resolve_keys(settings.database_url, settings.secret_keys)
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            progress = Progress(await count(session), "verifying the audit log")
            verdict = await verify(session, keys, expect_head=expect_head, progress=progress.advance)
            progress.close()
        async with db.write() as session:
            await record(session, keys, actor="cli", action="audit.verified", subject="audit_log",
                         details={"ok": verdict.ok, "checked": verdict.checked, "problems": len(verdict.problems),
                                  "head": f"{verdict.head[0]}:{verdict.head[1]}" if verdict.head else None})
            await session.commit()
    finally:
        await db.dispose()
    for note in verdict.notes:
        print(f"note: {note}")
    if not verdict.ok:
        print(f"earshot: the audit log was TAMPERED WITH ({len(verdict.problems)} problem(s) found):", file=sys.stderr)
        for problem in verdict.problems:
            print(f"  entry {problem.entry_id}: {problem.message}", file=sys.stderr)
        return 1
    if verdict.head is None:
        print("the audit log was empty: nothing to check (this verification is its first entry now)")
        print("warning: a log in use is never empty (retention keeps its newest entry, and every reading and check "
              "adds one), so if Earshot ran before, every entry was deleted, which an empty log alone can't show. "
              "Check it against a head noted earlier: `earshot audit verify --expect-head ID:HASH`.", file=sys.stderr)
        return 0
    print(f"audit log intact: {verdict.checked} entries checked, {verdict.start} to {verdict.head[0]}")
    print(f"head: {verdict.head[0]}:{verdict.head[1]}")
    print("Keep the head line somewhere else (a ticket, a password manager): the chain can't show its newest entries "
          f"deleted, but `earshot audit verify --expect-head {verdict.head[0]}:{verdict.head[1]}` can.")
    return 0
