"""`earshot erase customer|person`: erasure on request from the command line (bot.governance.erasure)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.config import Settings
from bot.governance.erasure import ANONYMOUS_NOTE, Customer, Eraser, Erasure, parse_person
from bot.outbox import Outbox
from bot.progress import Progress
from storage.engine import Database
from storage.migrate import upgrade
from storage.secrets import resolve_keys


def add_erase_parser(commands: Any) -> None:
    """Hook `earshot erase …` into the main parser's subcommands."""
    erase = commands.add_parser("erase", help="erase a customer's feedback or everything about one employee, on "
                                "request", description="Erasure on request (docs/governance.md). Every erasure is "
                                "recorded in the audit log, with counts only.")
    kinds = erase.add_subparsers(dest="erase_kind", required=True, metavar="WHO")

    customer = kinds.add_parser("customer", help="a customer's feedback items and contact details; their posted "
                                "cards are edited to “removed at the customer's request”",
                                usage="%(prog)s (--email ADDRESS | --source S --id I) [--dry-run]")
    customer.add_argument("--email", help="every item whose customer has this e-mail address (any case)")
    customer.add_argument("--source", help="with --id: the one item the tool sent with this id")
    customer.add_argument("--id", dest="external_id", help="the item's id in its source")
    customer.add_argument("--dry-run", action="store_true", help="only list what would go (counts and item ids)")
    customer.set_defaults(run=_customer)

    person = kinds.add_parser("person", help="an employee: named answers, reactions, roles and people records go; "
                              "claims and counts stay as “a former colleague”")
    person.add_argument("person", help="platform:user_id, e.g. slack:U024BE7LH or teams:29:1a2b")
    person.add_argument("--dry-run", action="store_true", help="only list what would go (counts)")
    person.set_defaults(run=_person)


def _customer(settings: Settings, args: argparse.Namespace) -> int:
    if args.email is not None and (args.source is not None or args.external_id is not None):
        return _refuse("give either --email, or --source with --id, not both")
    try:
        customer = Customer(email=args.email, source=args.source, external_id=args.external_id)
    except ValueError as error:
        return _refuse(str(error))
    return asyncio.run(_customer_async(settings, customer, args.dry_run))


async def _customer_async(settings: Settings, customer: Customer, dry_run: bool) -> int:
    db, eraser = await _eraser(settings)
    try:
        ids = await eraser.customer_items(customer)
        progress = Progress(len(ids), "checking" if dry_run else "erasing") if len(ids) > 1 else None
        erasure = await eraser.erase_customer(customer, actor="cli", dry_run=dry_run, ids=ids,
                                              advance=progress.advance if progress else lambda _n: None)
        if progress:
            progress.close()
    finally:
        await db.dispose()
    _report(erasure, "no feedback from this customer is stored: nothing to erase")
    return 0


def _person(settings: Settings, args: argparse.Namespace) -> int:
    try:
        platform, user_id = parse_person(args.person)
    except ValueError as error:
        return _refuse(str(error))
    return asyncio.run(_person_async(settings, platform, user_id, args.dry_run))


async def _person_async(settings: Settings, platform: str, user_id: str, dry_run: bool) -> int:
    db, eraser = await _eraser(settings)
    try:
        erasure = await eraser.erase_person(platform, user_id, actor="cli", dry_run=dry_run)
    finally:
        await db.dispose()
    _report(erasure, f"nothing about {platform}:{user_id} is stored: nothing to erase")
    print(ANONYMOUS_NOTE)
    return 0


async def _eraser(settings: Settings) -> tuple[Database, Eraser]:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    db = Database(settings.database_url)
    keys = resolve_keys(settings.database_url, settings.secret_keys)
    return db, Eraser(db, Outbox(), keys, settings)


def _report(erasure: Erasure, nothing: str) -> None:
    if erasure.empty:
        print(nothing)
        return
    print("would erase (dry run, nothing changed):" if erasure.dry_run else "erased:")
    for line in erasure.lines():
        print(f"  {line}")
    if not erasure.flushed:
        print("note: a reader kept SQLite's WAL busy, so it still holds earlier versions of the changed pages "
              "until the next truncating checkpoint (the daily purge makes one; or run this again while the server "
              "is idle)", file=sys.stderr)


def _refuse(message: str) -> int:
    print(f"earshot erase: {message}", file=sys.stderr)
    return 2
