"""`earshot sources add | list | test | remove`: register the feedback tools, see what each delivered, try a
payload without storing it."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multidict import CIMultiDict

from adapters.sources.base import BadPayload, Delivery, Kind, Option
from adapters.sources.kinds import KINDS
from adapters.sources.registry import (
    SourceExists,
    add_source,
    get_source,
    name_problem,
    remove_source,
    secret_box,
    secrets_problem,
    source_config,
)
from bot.config import Settings
from bot.feedback.items import validate
from bot.feedback.sources import describe, source_views
from storage.columns import utcnow
from storage.engine import Database
from storage.migrate import upgrade
from storage.secrets import resolve_keys

CONTENT_TYPES = {".json": "application/json", ".ndjson": "application/x-ndjson", ".csv": "text/csv",
                 ".txt": "application/x-www-form-urlencoded", ".form": "application/x-www-form-urlencoded"}


def add_sources_parser(commands: Any) -> None:
    """Hook `earshot sources …` into the main parser's subcommands."""
    sources = commands.add_parser("sources", help="feedback tools (Typeform, Zendesk, App Store…): add, list, "
                                  "test, remove", description="Feedback tools registered as sources. A tool that "
                                  "sends webhooks gets a URL to paste into it; a tool Earshot pulls from is called "
                                  "by the worker. See docs/sources.md.")
    actions = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="register a tool and print the URL and settings to paste into it",
                             usage=f"%(prog)s KIND NAME [options]  (KIND: {', '.join(sorted(KINDS))})",
                             description="Register a feedback tool as a source. `earshot sources add KIND --help` "
                             "shows that tool's options.")
    kinds = add.add_subparsers(dest="kind", required=True, metavar="KIND", title="kinds")
    for kind in sorted(KINDS.values(), key=lambda k: k.name):
        _kind_parser(kinds, kind)

    listing = actions.add_parser("list", help="each source's URL, last delivery, last 24 hours and last error")
    listing.set_defaults(run=_list)

    test = actions.add_parser("test", help="show what a payload would become, without storing anything",
                              description="Translate FILE (a payload as the tool sends it) as source NAME would "
                              "and validate each item; nothing is stored and the signature is not checked.")
    test.add_argument("name", help="the source's name")
    test.add_argument("file", type=Path, help="a payload saved as the tool sent it")
    test.add_argument("--content-type", help="the request's Content-Type (default: from the file's suffix: "
                      ".json JSON, .txt or .form form-encoded)")
    test.set_defaults(run=_test)

    remove = actions.add_parser("remove", help="forget a source and its counts (the items it delivered stay)")
    remove.add_argument("name", help="the source's name")
    remove.set_defaults(run=_remove)


def _kind_parser(kinds: Any, kind: Kind) -> None:
    parser = kinds.add_parser(kind.name, help=kind.title, prog=f"earshot sources add {kind.name}",
                              description=f"{kind.title}. {kind.setup}".strip(),
                              epilog="A secret given as - is read from standard input (kept out of shell history).")
    parser.add_argument("name", help="the source's name: lowercase letters, digits, - and _ (e.g. "
                        f"{kind.name}-nps); items it delivers have it as their source")
    declared = {option.name for option in kind.options}
    if "secret" not in declared:
        parser.add_argument("--secret", help="the signing secret or key the tool gives (or you give it)")
    for option in kind.options:
        flag = "--" + option.name.replace("_", "-")
        default = f" (default: {option.default})" if option.default is not None and not option.secret else ""
        parser.add_argument(flag, dest=f"option_{option.name}", required=option.required,
                            metavar="FILE" if option.file else option.name.upper(),
                            help=f"{option.help}{default}{' (a file: its contents are stored)' if option.file else ''}")
    parser.set_defaults(run=_add, kind_object=kind)


def _add(settings: Settings, args: argparse.Namespace) -> int:
    kind: Kind = args.kind_object
    if problem := name_problem(args.name):
        return _fail(f"“{args.name[:64]}”: {problem}")
    try:
        secret_values, options = _values(kind, args)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return _fail(str(error))
    return asyncio.run(_add_async(settings, kind, args.name, secret_values, options))


def _values(kind: Kind, args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str]]:
    """The kind's secrets and options from the command line (files read, `-` from stdin, defaults filled in)."""
    given: list[tuple[Option, str | None]] = [(o, getattr(args, f"option_{o.name}")) for o in kind.options]
    if not any(o.name == "secret" for o in kind.options):
        given.append((Option("secret", "", secret=True), args.secret))
    secret_values: dict[str, str] = {}
    options: dict[str, str] = {}
    for option, value in given:
        if value is None:
            value = option.default
        elif option.file:
            path = Path(value)
            if not path.is_file():
                raise ValueError(f"--{option.name.replace('_', '-')}: no such file: {path}")
            value = path.read_text(encoding="utf-8-sig")
        elif value == "-" and option.secret:
            value = sys.stdin.readline().strip()
        if value is None:
            continue
        (secret_values if option.secret else options)[option.name] = value
    if problem := secrets_problem(secret_values):
        raise ValueError(problem)
    return secret_values, options


async def _add_async(settings: Settings, kind: Kind, name: str, secret_values: Mapping[str, str],
                     options: Mapping[str, str]) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    keys = resolve_keys(settings.database_url, settings.secret_keys)
    db = Database(settings.database_url)
    try:
        token = await add_source(db, secret_box(keys), kind, name, secret_values, options, created_by="cli",
                                 audit_keys=keys)
    except SourceExists:
        return _fail(f"a source named {name} already exists: choose another name, or `earshot sources remove "
                     f"{name}` first")
    finally:
        await db.dispose()
    print(f"added {name} ({kind.title})")
    if kind.translate is not None:
        base = settings.public_base_url
        url = f"{base}/api/sources/{name}" + (f"/{token}" if token else "")
        print(f"URL: {url}")
        if token:
            print("  keep it secret: whoever has this address can send feedback as the tool (to change it, "
                  "`earshot sources remove` the source and add it again)")
        if settings.public_url is None:
            print(f"earshot: EARSHOT_PUBLIC_URL is not set: {base} is only this machine; the tool needs the "
                  "address it reaches this server at (https). Set it and run `earshot sources list` for the URL.",
                  file=sys.stderr)
    if kind.pull is not None:
        print(f"pulled by the worker about every {_minutes(kind.pull_every)}")
    if kind.setup:
        print(kind.setup)
    return 0


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _list(settings: Settings, _args: argparse.Namespace) -> int:
    return asyncio.run(_list_async(settings))


async def _list_async(settings: Settings) -> int:
    """Secret URLs are shown whole: this is the operator's own terminal, and the only place to read them again."""
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    box = secret_box(resolve_keys(settings.database_url, settings.secret_keys))
    db = Database(settings.database_url)
    now = utcnow()
    try:
        async with db.session() as session:
            views = await source_views(session, box, now)
    finally:
        await db.dispose()
    if not views:
        print("no sources yet: `earshot sources add KIND NAME` registers one (`earshot sources add --help` lists "
              "the kinds)")
        return 0
    for view in views:
        kind = KINDS.get(view.kind)
        lines = describe(view, settings.public_base_url, now, reveal=True,
                         has_url=kind is not None and kind.translate is not None)
        if kind is None:
            lines.append(f"  this version of Earshot has no kind {view.kind}: nothing arrives from it")
        print("\n".join(lines))
    return 0


def _test(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        return _fail(f"no such file: {path}")
    return asyncio.run(_test_async(settings, args.name, path.read_bytes(), args.content_type or
                                   CONTENT_TYPES.get(path.suffix.lower(), "application/json"), path.name))


async def _test_async(settings: Settings, name: str, body: bytes, content_type: str, label: str) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            row = await get_source(session, name)
    finally:
        await db.dispose()
    if row is None:
        return _fail(f"no source named {name} (`earshot sources list` shows them)")
    kind = KINDS.get(row.kind)
    if kind is None or kind.translate is None:
        return _fail(f"{name} is a {row.kind} source, which takes no payloads: it is pulled from the tool's API")
    config = source_config(row, secret_box(resolve_keys(settings.database_url, settings.secret_keys)))
    delivery = Delivery(method="POST", headers=CIMultiDict({"Content-Type": content_type}), body=body, query={},
                        received_at=utcnow(), content_type=content_type)
    try:
        translated = kind.translate(delivery, config)
    except BadPayload as error:
        return _fail(f"{label}: not a payload {kind.title} sends, or one {name} can't read: {error}", code=1)
    except Exception as error:  # as the route answers it: a payload this version can't read
        return _fail(f"{label}: {kind.title} payload this version can't read ({type(error).__name__}: {error})",
                     code=1)
    rejected = 0
    for number, raw in enumerate(translated.items, start=1):
        if isinstance(raw, dict):
            raw = {**raw, "source": name}
        try:
            item = validate(raw)
        except ValueError as error:
            rejected += 1
            print(f"item {number}: rejected: {error}")
            continue
        print(f"item {number}: " + json.dumps(item.model_dump(mode="json", exclude_none=True, exclude_defaults=True,
                                                              exclude={"source"}), ensure_ascii=False))
    if translated.fetch:
        print(f"would fetch from {kind.title}'s API: response {', '.join(translated.fetch)}")
    if not translated.items and not translated.fetch:
        print(f"nothing to store: {kind.title} sends this payload for something other than feedback")
    print(f"nothing was stored (source {name}; the signature was not checked)")
    return 1 if rejected else 0


def _remove(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_remove_async(settings, args.name))


async def _remove_async(settings: Settings, name: str) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    keys = resolve_keys(settings.database_url, settings.secret_keys)
    db = Database(settings.database_url)
    try:
        removed = await remove_source(db, name, audit_keys=keys, removed_by="cli")
    finally:
        await db.dispose()
    if not removed:
        return _fail(f"no source named {name} (`earshot sources list` shows them)")
    print(f"removed {name}: its URL is refused within a second; the feedback it delivered stays")
    return 0


def _fail(message: str, code: int = 2) -> int:
    print(f"earshot: {message}", file=sys.stderr)
    return code

