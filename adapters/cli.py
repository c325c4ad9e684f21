"""The `earshot` command line: serve, demo, import, digest, pulse-export, teams-package, db upgrade, roles,
sources."""

from __future__ import annotations

import argparse
import asyncio
import csv
import difflib
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path

from aiohttp import web

from adapters.audit_cli import add_audit_parser
from adapters.erase_cli import add_erase_parser
from adapters.heap import freeze_startup_heap
from adapters.retention_cli import add_retention_parser
from adapters.sources.cli import add_sources_parser
from bot import roles
from bot.commands import MAX_ID, record_id
from bot.config import PLATFORMS, ConfigError, Settings, is_loopback, load_settings
from bot.feedback.demo import FEED_INTERVAL, replay
from bot.feedback.importer import batches, detect_format, read_items
from bot.feedback.ingest import IngestResult
from bot.feedback.items import BadBody
from bot.feedback.mappings import MappingError
from bot.governance.audit import record
from bot.logs import configure
from bot.progress import Progress
from bot.pulses.publishing import unopenable
from bot.pulses.sealing import Sealer
from storage.deployment import DatabaseKindError
from storage.engine import Database
from storage.migrate import upgrade
from storage.secrets import SecretKeyError, resolve_keys

log = logging.getLogger("earshot")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        overrides: dict[str, object] = {}
        if getattr(args, "port", None):
            overrides["PORT"] = args.port
        if args.command == "demo":
            overrides["EARSHOT_SANDBOX"] = True
        settings = load_settings(**overrides)
    except ConfigError as error:
        print(f"earshot: {error}", file=sys.stderr)
        return 2
    configure(settings.log_format)
    try:
        return int(args.run(settings, args) or 0)
    except (SecretKeyError, DatabaseKindError) as error:  # a missing key, the other deployment's database: one line
        print(f"earshot: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="earshot", description="Customer voices to employees, "
                                     "employee voices to leaders — on Slack, Teams and a local sandbox.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot (web endpoints and/or the worker)")
    serve.add_argument("role", nargs="?", choices=("web", "worker", "all"), default="all",
                       help="web: HTTP only; worker: deliveries and schedules only; all (default): both")
    serve.add_argument("--port", type=int, help="HTTP port (default: $PORT or 3978)")
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="run with the sandbox workspace and demo data, no tokens needed")
    demo.add_argument("--port", type=int, help="HTTP port (default: $PORT or 3978)")
    demo.add_argument("--feed-interval", type=float, default=FEED_INTERVAL, metavar="SECONDS",
                      help=f"seconds between demo feedback items (0 turns the stream off; default {FEED_INTERVAL:g})")
    demo.set_defaults(run=_demo)

    imports = commands.add_parser("import", help="import feedback from a CSV, JSON or NDJSON file")
    imports.add_argument("file", help="the file; re-importing it is a no-op (deduplicated on source and id)")
    imports.add_argument("--format", choices=("csv", "json", "ndjson"), help="default: from the file's suffix")
    imports.add_argument("--mapping", help="a source mapping for payloads in another shape, e.g. nps-survey")
    imports.add_argument("--batch", type=int, default=500, help="items per transaction (default 500)")
    imports.set_defaults(run=_import)

    package = commands.add_parser("teams-package", help="build the Teams app package (manifest + icons, zipped)")
    package.add_argument("-o", "--output", type=Path, default=Path("."),
                         help="a folder or a .zip path (default: ./earshot-teams.zip)")
    package.add_argument("--app-version", help="manifest version (default: the manifest's)")
    package.set_defaults(run=_teams_package)

    digest = commands.add_parser("digest", help="write the weekly digest as Markdown, HTML, CSV or a PNG chart")
    digest.add_argument("--week", help="ISO week like 2026-W47 (default: this week so far)")
    digest.add_argument("--format", choices=("md", "html", "csv", "png"), default="md", help="default: md")
    digest.add_argument("--output", "-o", type=Path, help="file to write (default: stdout; png: digest-WEEK.png)")
    digest.add_argument("--team", action="append", default=[], metavar="CHANNEL",
                        help="only this team (a channel id, or platform:channel); repeat for several")
    digest.set_defaults(run=_digest)

    export = commands.add_parser("pulse-export", help="write a pulse's answers as CSV (no names if anonymous)")
    export.add_argument("pulse", type=_record_id, help="the pulse number (/pulse list shows it)")
    export.add_argument("--run", type=_record_id, dest="run_id",
                        help="a run of a recurring pulse (default: the latest)")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    export.set_defaults(run=_pulse_export)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the latest schema").set_defaults(run=_db_upgrade)
    forget = db_commands.add_parser("forget-sealed", help="give up anonymous answers waiting to be published that no "
                                    "configured key opens (a lost key; docs/anonymity.md)")
    forget.add_argument("--yes", action="store_true", help="do it (without: only count them)")
    forget.set_defaults(run=_forget_sealed)
    add_retention_parser(db_commands)

    role = commands.add_parser("roles", help="grant, revoke or list admin / manager / hr roles")
    role_commands = role.add_subparsers(dest="roles_command", required=True, metavar="ACTION")
    for action in ("grant", "revoke"):
        sub = role_commands.add_parser(action, help=f"{action} a role, e.g. `earshot roles {action} "
                                       "slack:U024BE7LH manager`")
        sub.add_argument("person", help="platform:user_id, e.g. slack:U024BE7LH or teams:29:1a2b")
        sub.add_argument("role", choices=roles.ROLES)
        sub.set_defaults(run=_roles)
    role_commands.add_parser("list", help="list every grant").set_defaults(run=_roles)
    add_sources_parser(commands)
    add_erase_parser(commands)
    add_audit_parser(commands)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.runtime import Runtime
    from adapters.web import build_app

    runtime = Runtime(settings, role=args.role)
    if args.role == "worker":
        asyncio.run(_run_worker(runtime))
        return 0
    app = build_app(runtime)
    app.on_startup.append(freeze_startup_heap)  # after the runtime has started
    web.run_app(app, host=settings.listen_host, port=settings.port, print=_announce(settings, runtime))
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.runtime import Runtime
    from adapters.sandbox.demo import seed_demo
    from adapters.web import build_app

    runtime = Runtime(settings)
    app = build_app(runtime)

    async def seed_and_feed(_app: web.Application) -> AsyncIterator[None]:
        assert runtime.workspace is not None
        await seed_demo(runtime.db, runtime.workspace, now=runtime.core.services.clock(), zone=settings.zone,
                        minimum=settings.anon_min)
        feed = None
        if args.feed_interval > 0:
            feed = asyncio.create_task(replay(runtime.features.stations.ingest, interval=args.feed_interval))
        yield
        if feed is not None:
            feed.cancel()

    app.cleanup_ctx.append(seed_and_feed)
    app.on_startup.append(freeze_startup_heap)
    web.run_app(app, host=settings.listen_host, port=settings.port, print=_announce(settings, runtime))
    return 0


def _import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"earshot: no such file: {path}", file=sys.stderr)
        return 2
    try:
        items = read_items(path, detect_format(path, args.format))
    except (BadBody, UnicodeDecodeError, csv.Error) as error:
        print(f"earshot: {path.name}: {error}", file=sys.stderr)
        return 2
    return asyncio.run(_import_async(settings, args, path.name, items))


async def _import_async(settings: Settings, args: argparse.Namespace, name: str, items: list[object]) -> int:
    from adapters.runtime import Runtime

    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    runtime = Runtime(settings, role="web")
    stations = runtime.features.stations
    try:
        mapping = stations.mapping(args.mapping) if args.mapping else None
        total = IngestResult()
        progress = Progress(len(items), f"importing {name}")
        for start, batch in batches(items, args.batch):
            result = await stations.ingest.ingest(batch, mapping)
            total.accepted += result.accepted
            total.duplicates += result.duplicates
            total.updated += result.updated
            total.rejected += [{**r, "index": r["index"] + start} for r in result.rejected]
            progress.advance(len(batch))
        progress.close()
    except MappingError as error:
        print(f"earshot: {error}", file=sys.stderr)
        return 2
    finally:
        await runtime.db.dispose()
    print(f"accepted {total.accepted}, updated {total.updated}, duplicates {total.duplicates}, "
          f"rejected {len(total.rejected)}")
    for rejection in total.rejected[:20]:
        print(f"  item {rejection['index'] + 1}: {rejection['error']}")
    if len(total.rejected) > 20:
        print(f"  …and {len(total.rejected) - 20} more")
    return 1 if total.rejected and not (total.accepted or total.updated or total.duplicates) else 0


async def _run_worker(runtime: object) -> None:
    from adapters.runtime import Runtime

    assert isinstance(runtime, Runtime)
    await runtime.start()
    await freeze_startup_heap()
    try:
        await runtime.run_until_stopped()
    finally:
        await runtime.stop()


def _announce(settings: Settings, runtime: object):  # type: ignore[no-untyped-def]
    """What aiohttp would print once it listens: the address, and the sandbox's link with its secret (the only
    way in), plus a warning when the sandbox is open to the network."""
    from adapters.runtime import Runtime
    from adapters.sandbox.platform import SandboxPlatform

    assert isinstance(runtime, Runtime)
    guard = next((p.guard for p in runtime.platforms if isinstance(p, SandboxPlatform)), None)

    def say(_message: str) -> None:
        print(f"Earshot is listening on http://{settings.listen_host}:{settings.port}", flush=True)
        if guard is None:
            return
        print(f"Open the sandbox: {guard.link()}", flush=True)  # the link holds this run's secret
        if not is_loopback(settings.listen_host):
            print(f"earshot: warning: the sandbox is open to the network on {settings.listen_host} "
                  "(EARSHOT_SANDBOX_PUBLIC=1): whoever holds its link acts as anyone in it; serve it over TLS",
                  file=sys.stderr, flush=True)

    return say


def _teams_package(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.teams.package import PackageError, build_package

    try:
        path = build_package(settings.teams_app_id, args.output, version=args.app_version)
    except PackageError as error:
        print(f"earshot: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: upload it in Teams (Apps → Manage your apps → Upload an app)")
    return 0


def _digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.digests.weeks import Week

    try:
        week = Week.parse(args.week, settings.zone) if args.week else Week.containing(
            datetime.now(settings.zone).date(), settings.zone)
    except ValueError as error:
        print(f"earshot: --week: {error}", file=sys.stderr)
        return 2
    teams = [team.strip() for value in args.team for team in value.split(",") if team.strip()]
    path: Path | None = args.output or (Path(f"digest-{week.label}.png") if args.format == "png" else None)
    if path is not None and not path.parent.is_dir():
        print(f"earshot: --output: there is no folder {path.parent}", file=sys.stderr)
        return 2
    output, missing = asyncio.run(_digest_async(settings, week, args.format, teams))
    if missing:
        print(f"earshot: --team: no team {', '.join(missing)} in {week.label} (a team is a channel with a station, "
              "a pulse or reactions to feedback; give its channel id)", file=sys.stderr)
        return 2
    try:
        if path is None:
            if isinstance(output, bytes):  # the CSV, BOM and all, whatever the terminal's encoding
                _write_stdout(output)
            else:
                sys.stdout.write(output if output.endswith("\n") else output + "\n")
            return 0
        _write_private(path, output if isinstance(output, bytes) else output.encode("utf-8"))
    except OSError as error:
        print(f"earshot: --output: {error.strerror or error}: {path}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


async def _digest_async(settings: Settings, week: object, kind: str,
                        teams: list[str]) -> tuple[str | bytes, list[str]]:
    """The digest in the format asked for, and the asked-for teams it has no team for."""
    from bot.digests import plots
    from bot.digests.build import Privacy, build_digest
    from bot.digests.csv_export import digest_csv
    from bot.digests.html_page import digest_html
    from bot.digests.markdown import digest_markdown
    from bot.digests.weeks import Week
    from bot.feedback.redact import Redactor

    assert isinstance(week, Week)
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    keys = resolve_keys(settings.database_url, settings.secret_keys)  # the audit log's: before any work
    db = Database(settings.database_url)
    try:
        digest = await build_digest(db, week, Privacy(settings.anon_min, settings.comment_min),
                                    Redactor(settings.redact_patterns), teams or None, lookups=_stored_names(db))
        found = {scope.key for scope in digest.teams} | {scope.key.split(":", 1)[-1] for scope in digest.teams}
        missing = [team for team in teams if team not in found]
        if not missing:  # recorded before it is written out: no digest leaves unrecorded
            async with db.write() as session:
                await record(session, keys, actor="cli", action="digest.previewed", subject=f"digest:{week.label}",
                             details={"format": kind, "teams": len(teams)})
                await session.commit()
    finally:
        await db.dispose()
    match kind:
        case "html":
            return digest_html(digest, plots.charts(digest)), missing
        case "csv":
            return digest_csv(digest), missing
        case "png":
            return plots.overview_chart(digest), missing
    return digest_markdown(digest), missing


def _stored_names(db: Database) -> dict[str, object]:
    """Channel names the database holds (the sandbox's channels, Teams' stored references), for the digest;
    Slack's come from its API, which the command line doesn't call: its channels go by their ids."""
    from adapters.sandbox.adapter import SandboxAdapter
    from adapters.sandbox.workspace import Workspace
    from adapters.teams.references import References

    return {"sandbox": SandboxAdapter(Workspace(db)), "teams": References(db)}


def _record_id(text: str) -> int:
    """A pulse or run number as the database can hold it (a bigger one is refused, not sent to the database)."""
    number = record_id(text)
    if number is None:
        raise argparse.ArgumentTypeError(f"“{text[:40]}” is not a number from 1 to {MAX_ID}")
    return number


def _write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _write_private(path: Path, data: bytes) -> None:
    """Write an export (people's answers, HR figures) readable by its owner only, as the database is: a new file
    is created 0600 and an existing one is narrowed to it before it is overwritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, 0o600)
        handle.write(data)


def _pulse_export(settings: Settings, args: argparse.Namespace) -> int:
    data = asyncio.run(_pulse_export_async(settings, args.pulse, args.run_id))
    if data is None:
        print(f"earshot: pulse #{args.pulse} has no such run", file=sys.stderr)
        return 2
    if args.output:
        try:
            _write_private(args.output, data)
        except OSError as error:
            print(f"earshot: --output: {error.strerror or error}: {args.output}", file=sys.stderr)
            return 1
        print(f"wrote {args.output}")
    else:
        _write_stdout(data)
    return 0


async def _pulse_export_async(settings: Settings, pulse_id: int, run_id: int | None) -> bytes | None:
    from sqlmodel import col, select

    from adapters.runtime import Runtime
    from bot.spreadsheet import read_csv
    from storage.tables import Pulse, PulseRun

    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    runtime = Runtime(settings, role="web")
    try:
        async with runtime.db.session() as session:
            pulse = await session.get(Pulse, pulse_id)
            query = select(PulseRun).where(PulseRun.pulse_id == pulse_id)
            if run_id is not None:
                query = query.where(PulseRun.id == run_id)
            run = (await session.exec(query.order_by(col(PulseRun.scheduled_for).desc()))).first()
        if pulse is None or run is None:
            return None
        data = await runtime.features.pulses.commands.csv(pulse, run)
        async with runtime.db.write() as session:  # recorded before the file is written: no export goes unrecorded
            await record(session, runtime.core.services.keys, actor="cli", action="pulse.exported",
                         subject=f"pulse:{pulse_id}", details={"run": run.id, "format": "csv",
                                                                "rows": len(read_csv(data)) - 1})
            await session.commit()
        return data
    finally:
        await runtime.db.dispose()


def _db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    upgrade(settings.database_url, secret_keys=settings.secret_keys)
    print("database is up to date")
    return 0


def _forget_sealed(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_forget_sealed_async(settings, args.yes))


async def _forget_sealed_async(settings: Settings, really: bool) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    db = Database(settings.database_url)
    keys = resolve_keys(settings.database_url, settings.secret_keys)
    sealer = Sealer(keys)
    try:
        async with db.write() as session:
            lost = await unopenable(session, sealer, forget=really)
            if really and lost:
                await record(session, keys, actor="cli", action="pulse.sealed_forgotten", subject="sealed_answers",
                             details={"answers": lost})
            await session.commit()
    finally:
        await db.dispose()
    if not lost:
        print("every anonymous answer waiting to be published opens with the configured keys: nothing to forget")
    elif really:
        print(f"gave up {lost} anonymous answers no configured key opens; who answered stays recorded")
    else:
        print(f"{lost} anonymous answers waiting to be published can't be opened with the configured keys. If the "
              "key they were sealed with is lost, `earshot db forget-sealed --yes` gives them up (they can't be "
              "answered again: who answered stays recorded)")
    return 0


def _roles(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_roles_async(settings, args))


async def _roles_async(settings: Settings, args: argparse.Namespace) -> int:
    await asyncio.to_thread(upgrade, settings.database_url, secret_keys=settings.secret_keys)
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            if args.roles_command == "list":
                grants = await roles.list_grants(session)
                for g in grants:
                    print(f"{g.platform}:{g.user_id}\t{g.role}\t(granted by {g.granted_by or 'unknown'})")
                if not grants:
                    print("no roles granted yet")
                return 0
            platform, _, user_id = args.person.partition(":")
            if not user_id or platform not in PLATFORMS:
                close = difflib.get_close_matches(platform, PLATFORMS, n=1)
                hint = f" (did you mean {close[0]}:{user_id}?)" if close and user_id else ""
                print(f"earshot: give the person as platform:user_id with platform one of {', '.join(PLATFORMS)}, "
                      f"e.g. slack:U024BE7LH{hint}", file=sys.stderr)
                return 2
            keys = resolve_keys(settings.database_url, settings.secret_keys)
            if args.roles_command == "grant":
                changed = await roles.grant_role(session, keys, platform, user_id, args.role, actor="cli", by="cli")
            else:
                changed = await roles.revoke_role(session, keys, platform, user_id, args.role, actor="cli")
            await session.commit()
        verb = "granted" if args.roles_command == "grant" else "revoked"
        print(f"{args.role} {verb} for {args.person}" if changed else f"nothing to do: already {verb}")
        return 0
    finally:
        await db.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
