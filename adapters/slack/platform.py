"""Slack as a platform of the process: the bolt app on POST /slack/events (or Socket Mode), the Web API client
every call shares (one per workspace with OAuth installs, and then GET /slack/install and /slack/oauth_redirect),
and the adapter the outbox delivers through."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.platform import PlatformContext
from adapters.slack.adapter import SlackAdapter
from adapters.slack.clients import Installations, Team
from adapters.slack.listeners import SlackListeners
from adapters.slack.oauth import (
    INSTALL_PATH,
    REDIRECT_PATH,
    installation_store,
    oauth_settings,
    refuse_other_workspaces,
)
from adapters.slack.translate import PLATFORM
from bot import json_input
from storage.failures import unavailable

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
WEB_API_TIMEOUT_SECONDS = 10
DRAIN_SECONDS = 10.0


def web_client(token: str | None, api_url: str) -> AsyncWebClient:
    """The Web API client, pointed at `SLACK_API_URL`, with slack_sdk's own retries off (the outbox retries)."""
    return AsyncWebClient(token=token, base_url=api_url if api_url.endswith("/") else api_url + "/",
                          timeout=WEB_API_TIMEOUT_SECONDS, retry_handlers=[])


def bolt_app(client: AsyncWebClient, signing_secret: str | None, oauth: AsyncOAuthSettings | None = None,
             before_authorize: Callable[..., Awaitable[BoltResponse | None]] | None = None) -> AsyncApp:
    """Request verification stays on (a bad or stale signature answers 401); listeners choose when to ack. With
    `oauth`, bolt authorizes each request from the installation store and runs the OAuth flow through `client`
    (so oauth.v2.access goes to `SLACK_API_URL` too); `before_authorize` runs after the signature check."""
    app = AsyncApp(client=client, signing_secret=signing_secret or "", process_before_response=True,
                   request_verification_enabled=True, oauth_settings=oauth, before_authorize=before_authorize)
    app.error(_unhandled)
    return app


async def _unhandled(error: Exception) -> BoltResponse:
    """A request bolt or a listener could not handle (a payload field of the wrong type, say): logged with its
    traceback, and a 400, not bolt's 500: it would fail the same way however often Slack retried. A database
    outage stays a 5xx (503), so Slack's retry can succeed."""
    if unavailable(error):
        log.warning("slack: the database is unavailable: %s", error)
        return BoltResponse(status=503, body="")
    log.error("slack: a request could not be handled: %s: %s", type(error).__name__, error, exc_info=error)
    return BoltResponse(status=400, body="")


def _within_json_limits(body: bytes, content_type: str) -> None:
    """Raise json_input.BadJSON for a body whose JSON (the body itself, or a form's `payload`, as bolt reads
    it) breaks json_input's limits. Bolt parses with plain json.loads, whose nesting limit is the interpreter's:
    Python 3.11 refuses 5,000 levels, 3.13 parses them; this makes the answer the same 400 on every Python."""
    text = json_input.decode(body)
    if content_type == "application/json" or text.startswith("{"):
        json_input.loads(text, storable=False)
    elif "payload" in text and (payload := dict(parse_qsl(text, keep_blank_values=True)).get("payload")):
        json_input.loads(payload, storable=False)


class SlackPlatform:
    name = PLATFORM

    def __init__(self, context: PlatformContext) -> None:
        settings = context.settings
        self.client = web_client(settings.slack_bot_token, settings.slack_api_url)
        self.installations: Installations | None = None
        if settings.slack_oauth:
            store = installation_store(settings, context.db.engine)
            oauth = oauth_settings(settings, store, context.db.engine, self.client)
            self.installations = Installations(self.client, store, context.db)
            self.app = bolt_app(self.client, settings.slack_signing_secret, oauth,
                                refuse_other_workspaces(settings.slack_allowed_teams))
            self.app.use(self._enter_workspace)
            self.adapter = SlackAdapter(self.installations, context.db)
        else:
            self.app = bolt_app(self.client, settings.slack_signing_secret)
            self.adapter = SlackAdapter(self.client, context.db)
        self.listeners = SlackListeners(context.core, self.adapter)
        self.listeners.register(self.app)
        self._app_token = settings.slack_app_token
        self._socket: AsyncSocketModeHandler | None = None
        self._verifier = SignatureVerifier(settings.slack_signing_secret) if settings.slack_signing_secret else None

    @property
    def socket_mode(self) -> bool:
        return self._app_token is not None

    def mount(self, app: web.Application) -> None:
        if not self.socket_mode:
            app.router.add_post(EVENTS_PATH, self.events)
        if self.installations is not None:
            app.router.add_get(INSTALL_PATH, self.install)
            app.router.add_get(REDIRECT_PATH, self.oauth_redirect)

    async def events(self, request: web.Request) -> web.Response:
        """Events API, interactivity and slash commands, all on one URL. The signature is checked over the raw
        body before anything parses it (anyone who can reach the port can send a body: a 401, one INFO line);
        bolt checks it again. A signed body bolt can't parse (not JSON, JSON but not an object) is a 400 and a
        warning; one whose fields break even bolt's error handling (an empty `actions`) raises out of it here."""
        if not self._signed(await request.read(), request.headers):
            log.info("slack: refused a request to %s without a valid signature", EVENTS_PATH)
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            _within_json_limits(await request.read(), request.content_type)
            bolt_request = await to_bolt_request(request)
        except Exception as error:  # json_input's BadJSON, a list where bolt wants a dict…
            log.warning("slack: a signed request's body could not be parsed: %s: %s", type(error).__name__,
                        str(error)[:200])
            return web.json_response({"error": "the body could not be parsed"}, status=400)
        try:
            response = await self.app.async_dispatch(bolt_request)
        except Exception as error:
            response = await _unhandled(error)
        return await to_aiohttp_response(response)

    def _signed(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Slack's v0 signature over the body with a timestamp of the last five minutes. Slack signs UTF-8 text:
        a body that isn't, a timestamp that isn't a number or a signature that isn't ASCII is no signature."""
        if self._verifier is None:
            return False
        try:
            return self._verifier.is_valid(body.decode("utf-8"), headers.get("X-Slack-Request-Timestamp"),
                                           headers.get("X-Slack-Signature"))
        except (ValueError, TypeError):
            return False

    async def install(self, request: web.Request) -> web.Response:
        """A redirect to Slack's authorize page, with a fresh state (stored, and in a cookie)."""
        return await to_aiohttp_response(await self._flow.handle_installation(await to_bolt_request(request)))

    async def oauth_redirect(self, request: web.Request) -> web.Response:
        """Slack sends the installer back here with a code: checks the state, exchanges the code, stores the
        install. A missing, unknown or expired state (or a browser without the cookie) is refused."""
        return await to_aiohttp_response(await self._flow.handle_callback(await to_bolt_request(request)))

    @property
    def _flow(self) -> AsyncOAuthFlow:
        assert self.app.oauth_flow is not None
        return self.app.oauth_flow

    async def _enter_workspace(self, context: AsyncBoltContext,
                               next: Callable[[], Awaitable[BoltResponse | None]]) -> BoltResponse | None:
        """Bolt middleware, after its authorization: replies to this request use its workspace's client, and
        the channel and person it came from are remembered as that workspace's (for the outbox). Bolt passes
        arguments by name, hence `next`."""
        assert self.installations is not None
        if context.bot_token and (context.team_id or context.enterprise_id):
            team = Team(context.enterprise_id, None if context.is_enterprise_install else context.team_id)
            self.installations.enter(team, context.bot_token)
            await self.installations.remember([i for i in (context.channel_id, context.user_id) if i], team)
        return await next()

    async def start(self) -> None:
        self.client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEB_API_TIMEOUT_SECONDS))
        if self.socket_mode:
            self._socket = AsyncSocketModeHandler(self.app, self._app_token)
            await self._socket.connect_async()
            log.info("slack: connected over Socket Mode")
        else:
            log.info("slack: listening on %s", EVENTS_PATH)

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        await self.listeners.drain(DRAIN_SECONDS)
        if self.client.session is not None:
            await self.client.session.close()
            self.client.session = None
