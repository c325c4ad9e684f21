"""`earshot db retention | purge | vacuum`: the retention policy in effect, the purge on demand, and giving the
freed space back (SQLite) or saying how (PostgreSQL)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.config import Settings
from bot.governance.policy import Policy
from bot.governance.retention import Counts, purge
from bot.progress import Progress
from storage.columns import utcnow
from storage.engine import Database, flush_deleted, sqlite_file
from storage.migrate import upgrade
from storage.secrets import resolve_keys

POSTGRES_VACUUM = """PostgreSQL keeps a deleted or overwritten row in the table's files until VACUUM reclaims it.
Autovacuum does this on its own schedule and is usually enough: it makes the space reusable, and the old rows'
bytes are overwritten as new rows take their place. To reclaim now (safe while Earshot runs):

    psql "$DATABASE_URL" -c 'VACUUM (VERBOSE, ANALYZE);'

To rewrite the tables so that no removed text is left in their files at all, run VACUUM FULL at a quiet time: it
locks each table while it copies it, so votes and deliveries wait:

    psql "$DATABASE_URL" -c 'VACUUM FULL feedback, response, participation, delivery;'
    psql "$DATABASE_URL" -c 'VACUUM FULL stored_file, chart, sandbox_message, audit_entry;'

Removed rows also live on in the write-ahead log (pg_wal) until it is recycled, in WAL archives and in backups:
see docs/governance.md, "Backups"."""


def add_retention_parser(db_commands: Any) -> None:
    """Hook `earshot db retention | purge | vacuum` into `earshot db`."""
    db_commands.add_parser("retention", help="print the retention policy in effect (EARSHOT_RETAIN_*)").set_defaults(
        run=_retention)
    purging = db_commands.add_parser("purge", help="remove now what the retention policy no longer keeps (the "
                                     "worker does it daily)")
    purging.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")
    purging.add_argument("--batch", type=_batch, default=500, help="rows per transaction (default 500)")
    purging.set_defaults(run=_purge)
    db_commands.add_parser("vacuum", help="SQLite: rebuild the file without its free pages; PostgreSQL: print what "
                           "to run").set_defaults(run=_vacuum)


def _batch(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise argparse.ArgumentTypeError("a whole number from 1 to 10000")
    return int(text)


def _retention(settings: Settings, _args: argparse.Namespace) -> int:
    print(describe(settings.retention))
    return 0


def describe(policy: Policy) -> str:
    lines = [f"{'kind (setting)':<58} {'set to':<10} {'in effect':<13} removed / kept"]
    for kind, setting, effective in policy.describe():
        lines.append(f"{f'{kind.name} ({kind.env})':<58} {setting:<10} {effective:<13} removes {kind.removed}; "
                     f"keeps {kind.kept}")
    lines.append("`never` (or 0) keeps a kind forever. Copies go with what they copy: posted cards and sandbox "
                 "messages no later than customer text, contacts and pulse answers; exports no later than answers.")
    return "\n".join(lines)


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_purge_async(settings, args.dry_run, args.batch))


async def _purge_async(settings: Settings, dry_run: bool, batch: int) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    db = Database(settings.database_url)
    keys = resolve_keys(settings.database_url, settings.secret_keys)
    policy, now = settings.retention, utcnow()
    try:
        due = await purge(db, keys, policy, now, batch=batch, dry_run=True, settings=settings)
        if dry_run:
            print(_summary(due, "would remove"))
            return 0
        progress = Progress(due.total, "purging", stream=sys.stderr)
        counts = await purge(db, keys, policy, now, batch=batch, actor="cli", progress=progress.advance,
                             settings=settings)
        progress.close()
    finally:
        await db.dispose()
    print(_summary(counts, "removed"))
    return 0


def _summary(counts: Counts, verb: str) -> str:
    found = {kind: count for kind, count in counts.details().items() if count}
    if not found:
        return "nothing to remove: everything stored is within the retention policy"
    return f"{verb}: " + ", ".join(f"{kind} {count}" for kind, count in found.items())


def _vacuum(settings: Settings, _args: argparse.Namespace) -> int:
    path = sqlite_file(settings.database_url)
    if path is None:
        print(POSTGRES_VACUUM)
        return 0
    return asyncio.run(_vacuum_sqlite(settings, path.stat().st_size if path.exists() else 0))


async def _vacuum_sqlite(settings: Settings, before: int) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    db = Database(settings.database_url)
    path = sqlite_file(settings.database_url)
    assert path is not None
    try:
        async with db.write() as session:
            connection = await session.connection()
            await connection.exec_driver_sql("VACUUM")
        emptied = await flush_deleted(db)  # VACUUM wrote the new file through the WAL
    finally:
        await db.dispose()
    print(f"vacuumed {path}: {before:,} → {path.stat().st_size:,} bytes")
    if not emptied:
        print("the write-ahead log could not be emptied (a reader held it); run `earshot db vacuum` again")
        return 1
    return 0
