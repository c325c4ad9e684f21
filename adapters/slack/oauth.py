"""OAuth installs (`SLACK_CLIENT_ID` / `SLACK_CLIENT_SECRET`): bolt's install and redirect endpoints, with
slack_sdk's SQLAlchemy installation and state stores on Earshot's own database (tables from migration 0007)."""

from __future__ import annotations

import re
from pathlib import Path

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings

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


def installation_store(settings: Settings, engine: AsyncEngine) -> AsyncSQLAlchemyInstallationStore:
    return AsyncSQLAlchemyInstallationStore(client_id=settings.slack_client_id or "", engine=engine)


def oauth_settings(settings: Settings, store: AsyncSQLAlchemyInstallationStore,
                   engine: AsyncEngine) -> AsyncOAuthSettings:
    """Bolt serves GET /slack/install (a 302 to Slack's authorize page, with the state in a cookie) and GET
    /slack/oauth_redirect (oauth.v2.access through the app's client, so `SLACK_API_URL`; then the install is
    stored). Tables are never created here: migrations own the schema."""
    return AsyncOAuthSettings(
        client_id=store.client_id, client_secret=settings.slack_client_secret, scopes=manifest_bot_scopes(),
        user_scopes=[], redirect_uri=settings.slack_redirect_uri, install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH, install_page_rendering_enabled=False,
        installation_store=store, installation_store_bot_only=True,
        state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_SECONDS, engine=engine),
        state_expiration_seconds=STATE_SECONDS)
