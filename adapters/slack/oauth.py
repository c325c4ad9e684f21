"""OAuth installs (`SLACK_CLIENT_ID` / `SLACK_CLIENT_SECRET`): bolt's install and redirect endpoints, with
slack_sdk's SQLAlchemy installation and state stores on Earshot's own database (tables from migration 0007).

Only the workspaces of `SLACK_ALLOWED_TEAMS` get in: the installation store refuses to save any other (the
installer sees a page saying so, and the app is uninstalled from there again), and `refuse_other_workspaces`
turns away their requests even if an install of theirs was stored before. Tokens are stored encrypted with
`EARSHOT_SECRET_KEY` (storage/secrets.py)."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable, Set
from pathlib import Path
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from storage.secrets import SecretBox

log = logging.getLogger(__name__)

MANIFEST = Path(__file__).with_name("manifest.yml")
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600


def manifest_bot_scopes(manifest: str | None = None) -> list[str]:
    """The `oauth_config.scopes.bot` list of the app manifest: an install asks for exactly what the manifest
    declares. (A line reader, not YAML: the manifest's shape is fixed and no YAML library is a dependency.)"""
    text = MANIFEST.read_text() if manifest is None else manifest
    match = re.search(r"^  scopes:.*\n    bot:.*\n((?:      - .*\n)+)", text, re.MULTILINE)
    if match is None:
        raise ValueError("manifest.yml has no oauth_config.scopes.bot list")
    return [line.split("#", 1)[0].strip().removeprefix("- ").strip() for line in match.group(1).splitlines()]


SEALED_COLUMNS = {
    "slack_bots": ("bot_token", "bot_refresh_token"),
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token",
                            "incoming_webhook_url"),
}
"""The credentials slack_sdk stores, encrypted (migration 0009 encrypted the rows written before)."""


def allowed(allowed_ids: Set[str], enterprise_id: str | None, team_id: str | None) -> bool:
    """A workspace may use Earshot when its team id, or the id of the Enterprise Grid org it belongs to, is in
    `SLACK_ALLOWED_TEAMS`; an org-wide install (no team) needs the org's id."""
    return any(i in allowed_ids for i in (enterprise_id, team_id) if i)


class WorkspaceRefused(BoltError):
    """An install from a workspace outside `SLACK_ALLOWED_TEAMS`; bolt hands it to the failure page."""

    def __init__(self, installation: Installation) -> None:
        super().__init__(f"workspace {workspace_label(installation.enterprise_id, installation.team_id)} is "
                         "not in SLACK_ALLOWED_TEAMS")
        self.installation = installation


def workspace_label(enterprise_id: str | None, team_id: str | None) -> str:
    return team_id or enterprise_id or "(unknown)"


class Sealed(TypeDecorator[str]):
    """A column slack_sdk reads and writes as plain text, encrypted on the way in and decrypted on the way out."""

    impl = Text
    cache_ok = True

    def __init__(self, box: SecretBox) -> None:
        super().__init__()
        self.box = box

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.box.seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.box.open(value)


class SealedInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store with its credential columns encrypted, which saves allowed workspaces only. A save
    (a new install, or a reinstall) encrypts with the first key, so a rotated key takes over as workspaces
    reinstall; reads accept every key."""

    def __init__(self, client_id: str, engine: AsyncEngine, box: SecretBox, allowed_ids: Set[str]) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self.allowed_ids = frozenset(allowed_ids)
        for table in (self.bots, self.installations):
            for name in SEALED_COLUMNS[table.name]:
                table.c[name].type = Sealed(box)

    async def async_save(self, installation: Installation) -> None:
        if not allowed(self.allowed_ids, installation.enterprise_id, installation.team_id):
            raise WorkspaceRefused(installation)
        await super().async_save(installation)


def installation_store(settings: Settings, engine: AsyncEngine) -> SealedInstallationStore:
    return SealedInstallationStore(settings.slack_client_id or "", engine, SecretBox(settings.secret_keys),
                                   settings.slack_allowed_teams)


def oauth_settings(settings: Settings, store: SealedInstallationStore, engine: AsyncEngine,
                   client: AsyncWebClient) -> AsyncOAuthSettings:
    """Bolt serves GET /slack/install (a 302 to Slack's authorize page, with the state in a cookie) and GET
    /slack/oauth_redirect (oauth.v2.access through the app's client, so `SLACK_API_URL`; then the install is
    stored, or refused). Tables are never created here: migrations own the schema."""
    return AsyncOAuthSettings(
        client_id=store.client_id, client_secret=settings.slack_client_secret, scopes=manifest_bot_scopes(),
        user_scopes=[], redirect_uri=settings.slack_redirect_uri, install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH, install_page_rendering_enabled=False,
        installation_store=store, installation_store_bot_only=True,
        state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine),
        state_expiration_seconds=STATE_SECONDS,
        callback_options=AsyncCallbackOptions(success=_success, failure=_refusal_page(client)))


async def _success(args: AsyncSuccessArgs) -> BoltResponse:
    return await args.default.success(args)


def _refusal_page(client: AsyncWebClient) -> Callable[[AsyncFailureArgs], Awaitable[BoltResponse]]:
    """Bolt's failure page, except for a refused workspace: a 403 page naming it and the setting, after the app
    is uninstalled from that workspace again (so it holds no working token of ours)."""

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        if not isinstance(args.error, WorkspaceRefused):
            return await args.default.failure(args)
        installation = args.error.installation
        label = workspace_label(installation.enterprise_id, installation.team_id)
        log.warning("slack: refused an install from workspace %s: not in SLACK_ALLOWED_TEAMS", label)
        if installation.bot_token:
            try:
                await client.apps_uninstall(client_id=args.settings.client_id,
                                            client_secret=args.settings.client_secret or "",
                                            token=installation.bot_token)
            except (SlackApiError, SlackClientError) as error:
                log.warning("slack: uninstalling from refused workspace %s failed: %s", label,
                            type(error).__name__)
        name = installation.team_name or installation.enterprise_name or label
        return BoltResponse(status=403, headers={"Content-Type": "text/html; charset=utf-8"},
                            body=refusal_html(name, label))

    return failure


def refusal_html(name: str, label: str) -> str:
    """The page an installer from a workspace outside the allow-list sees (their workspace's name is theirs to
    choose, hence escaped)."""
    where = html.escape(f"{name} ({label})" if name != label else label)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Earshot: workspace not "
            f"allowed</title></head><body><h1>Earshot is not installed</h1><p>This Earshot is not set up for the "
            f"workspace {where}; ask its admin to add <code>{html.escape(label)}</code> to "
            "<code>SLACK_ALLOWED_TEAMS</code>.</p><p>Nothing was stored.</p></body></html>")


REFUSED_REQUEST = ("This Earshot is not set up for this Slack workspace; ask its admin to add the workspace "
                   "to SLACK_ALLOWED_TEAMS.")


def refuse_other_workspaces(allowed_ids: Set[str]) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Bolt middleware run before authorization, after the signature check: a request (event, command, click,
    form) from a workspace outside the allow-list is answered with a refusal and goes no further, even if an
    install of that workspace is stored. Requests that name no workspace (url_verification, ssl_check) need no
    authorization; anything else of that kind is refused by bolt's authorization anyway."""

    async def guard(context: AsyncBoltContext, body: dict[str, Any],
                    next: Callable[[], Awaitable[BoltResponse | None]]) -> BoltResponse | None:
        enterprise_id, team_id = context.enterprise_id, context.team_id
        if (enterprise_id or team_id) and not allowed(allowed_ids, enterprise_id, team_id):
            log.warning("slack: refused a %s request from workspace %s: not in SLACK_ALLOWED_TEAMS",
                        body.get("type") or ("command" if "command" in body else "unknown"),
                        workspace_label(enterprise_id, team_id))
            return BoltResponse(status=200, body=REFUSED_REQUEST)
        return await next()

    return guard
