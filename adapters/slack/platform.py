"""Slack as a platform of the process: the bolt app on POST /slack/events (or Socket Mode), the Web API client
every call shares, and the adapter the outbox delivers through."""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.platform import PlatformContext
from adapters.slack.adapter import SlackAdapter
from adapters.slack.listeners import SlackListeners
from adapters.slack.translate import PLATFORM

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
WEB_API_TIMEOUT_SECONDS = 10
DRAIN_SECONDS = 10.0


def web_client(token: str, api_url: str) -> AsyncWebClient:
    """The Web API client, pointed at `SLACK_API_URL`, with slack_sdk's own retries off (the outbox retries)."""
    return AsyncWebClient(token=token, base_url=api_url if api_url.endswith("/") else api_url + "/",
                          timeout=WEB_API_TIMEOUT_SECONDS, retry_handlers=[])


def bolt_app(client: AsyncWebClient, signing_secret: str | None) -> AsyncApp:
    """Request verification stays on (a bad or stale signature answers 401); listeners choose when to ack."""
    return AsyncApp(client=client, signing_secret=signing_secret or "", process_before_response=True,
                    request_verification_enabled=True)


class SlackPlatform:
    name = PLATFORM

    def __init__(self, context: PlatformContext) -> None:
        settings = context.settings
        self.client = web_client(settings.slack_bot_token or "", settings.slack_api_url)
        self.adapter = SlackAdapter(self.client, context.db)
        self.app = bolt_app(self.client, settings.slack_signing_secret)
        self.listeners = SlackListeners(context.core, self.adapter)
        self.listeners.register(self.app)
        self._app_token = settings.slack_app_token
        self._socket: AsyncSocketModeHandler | None = None

    @property
    def socket_mode(self) -> bool:
        return self._app_token is not None

    def mount(self, app: web.Application) -> None:
        if not self.socket_mode:
            app.router.add_post(EVENTS_PATH, self.events)

    async def events(self, request: web.Request) -> web.Response:
        """Events API, interactivity and slash commands, all on one URL."""
        return await to_aiohttp_response(await self.app.async_dispatch(await to_bolt_request(request)))

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
