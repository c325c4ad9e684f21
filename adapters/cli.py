"""The `earshot` command line: serve, demo, db upgrade, roles."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from bot import roles
from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure
from storage.engine import Database
from storage.migrate import upgrade

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
    return int(args.run(settings, args) or 0)


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
    demo.set_defaults(run=_demo)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the latest schema").set_defaults(run=_db_upgrade)

    role = commands.add_parser("roles", help="grant, revoke or list admin / manager / hr roles")
    role_commands = role.add_subparsers(dest="roles_command", required=True, metavar="ACTION")
    for action in ("grant", "revoke"):
        sub = role_commands.add_parser(action, help=f"{action} a role, e.g. `earshot roles {action} "
                                       "slack:U024BE7LH manager`")
        sub.add_argument("person", help="platform:user_id, e.g. slack:U024BE7LH or teams:29:1a2b")
        sub.add_argument("role", choices=roles.ROLES)
        sub.set_defaults(run=_roles)
    role_commands.add_parser("list", help="list every grant").set_defaults(run=_roles)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.runtime import Runtime
    from adapters.web import build_app

    runtime = Runtime(settings, role=args.role)
    if args.role == "worker":
        asyncio.run(_run_worker(runtime))
        return 0
    web.run_app(build_app(runtime), host=settings.host, port=settings.port, print=_announce(settings))
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.runtime import Runtime
    from adapters.sandbox.demo import seed_workspace
    from adapters.web import build_app

    runtime = Runtime(settings)
    app = build_app(runtime)

    async def seed(_app: web.Application) -> None:
        assert runtime.workspace is not None
        await seed_workspace(runtime.db, runtime.workspace)

    app.on_startup.append(seed)
    web.run_app(app, host=settings.host, port=settings.port, print=_announce(settings))
    return 0


async def _run_worker(runtime: object) -> None:
    from adapters.runtime import Runtime

    assert isinstance(runtime, Runtime)
    await runtime.start()
    try:
        await runtime.run_until_stopped()
    finally:
        await runtime.stop()


def _announce(settings: Settings):  # type: ignore[no-untyped-def]
    def say(_message: str) -> None:
        where = f"http://localhost:{settings.port}"
        print(f"Earshot is listening on {where}" + (f" — open {where}/sandbox" if settings.sandbox_enabled else ""),
              flush=True)

    return say


def _db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    upgrade(settings.database_url)
    print("database is up to date")
    return 0


def _roles(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_roles_async(settings, args))


async def _roles_async(settings: Settings, args: argparse.Namespace) -> int:
    await asyncio.to_thread(upgrade, settings.database_url)
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
            if not user_id:
                print("earshot: give the person as platform:user_id, e.g. slack:U024BE7LH", file=sys.stderr)
                return 2
            if args.roles_command == "grant":
                changed = await roles.grant(session, platform, user_id, args.role, by="cli")
            else:
                changed = await roles.revoke(session, platform, user_id, args.role)
            await session.commit()
        verb = "granted" if args.roles_command == "grant" else "revoked"
        print(f"{args.role} {verb} for {args.person}" if changed else f"nothing to do: already {verb}")
        return 0
    finally:
        await db.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
