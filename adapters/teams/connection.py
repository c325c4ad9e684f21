"""botbuilder's CloudAdapter and authentication built from Earshot's settings.

Connector clients are tuned so the outbox owns retries: msrest (under botbuilder) would otherwise retry
5xx answers three times with its own backoff inside one attempt and wait up to 100 s per request. They are
also reused across turns, per service URL and audience, as botbuilder's older BotFrameworkAdapter did: building
one costs about 6 ms of CPU (msrest's retry policy scans a list of status codes), twice per turn. The service
URL comes with each request, so only the most recent few clients are kept (each holds an HTTP session).

A client never follows a redirect: what it sends (cards with customer feedback, answers) goes to the service
URL Teams named and nowhere else. msrest follows 307/308 (and 303, as a GET) by default, 307/308 with the body;
with no redirect allowed requests raises TooManyRedirects instead (turning off allow_redirects would be simpler,
but then msrest's own 301/302 patch breaks requests with a TypeError).
"""

from __future__ import annotations

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from urllib3.util.retry import Retry

from adapters.teams.lru import LRU
from bot.config import Settings

REQUEST_TIMEOUT_SECONDS = 20
CONNECTORS_KEPT = 32
"""Connector clients kept, most recently used first: a bot talks to a handful of Teams regions."""
TOKEN_CLIENTS_KEPT = 4

ConnectorKey = tuple[str | None, str, str | None]


class BotConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads (MicrosoftAppId etc.)."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.teams_app_id
        self.APP_PASSWORD = settings.teams_app_password
        self.APP_TYPE = settings.teams_app_type
        self.APP_TENANTID = settings.teams_app_tenant_id


class _SharedConnectors(ConnectorFactory):
    """Hands out one single-attempt connector client per (service URL, audience), kept in `cache`."""

    def __init__(self, inner: ConnectorFactory, app_id: str | None, cache: LRU[ConnectorKey, ConnectorClient]) -> None:
        self._inner = inner
        self._app_id = app_id
        self._cache = cache

    async def create(self, service_url: str, audience: str) -> ConnectorClient:
        key = (self._app_id, service_url, audience)
        client = self._cache.get(key)
        if client is not None:
            return client
        client = await self._inner.create(service_url, audience)
        client.config.retry_policy.policy = Retry(total=0, redirect=0, raise_on_status=False)
        client.config.redirect_policy.max_redirects = 0  # requests refuses a 303/307/308 before following it
        client.config.connection.timeout = REQUEST_TIMEOUT_SECONDS
        raced = self._cache.get(key)  # another turn built one meanwhile: use it, drop this one
        if raced is not None:
            await close_connector(client)
            return raced
        for dropped in self._cache.put(key, client):
            await close_connector(dropped)  # a request still under way finishes; the next opens a new pool
        return client


async def close_connector(client: ConnectorClient) -> None:
    """Close the client's HTTP session (its pooled connections)."""
    await client.__aexit__(None, None, None)


class Authentication(ConfigurationBotFrameworkAuthentication):
    """Validates inbound tokens (none needed in emulator mode) and shares single-attempt connector clients."""

    def __init__(self, configuration: BotConfig) -> None:
        super().__init__(configuration)
        self._connectors: LRU[ConnectorKey, ConnectorClient] = LRU(CONNECTORS_KEPT)
        self._token_clients: LRU[str | None, UserTokenClient] = LRU(TOKEN_CLIENTS_KEPT)

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        result.connector_factory = _SharedConnectors(result.connector_factory,
                                                     _app_id(result.claims_identity), self._connectors)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _SharedConnectors(super().create_connector_factory(claims_identity), _app_id(claims_identity),
                                 self._connectors)

    async def close(self) -> None:
        for client in self._connectors.clear():
            await close_connector(client)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        """Earshot signs no one in, but every turn asks for one: build it once per app id (unused, it opens no
        session, so one dropped needs no closing)."""
        app_id = _app_id(claims_identity)
        client = self._token_clients.get(app_id)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            self._token_clients.put(app_id, client)
        return client


def _app_id(identity: ClaimsIdentity) -> str | None:
    claims = identity.claims or {}
    return claims.get(AuthenticationConstants.AUDIENCE_CLAIM) or claims.get(AuthenticationConstants.APP_ID_CLAIM)


def build_cloud_adapter(settings: Settings) -> tuple[CloudAdapter, Authentication]:
    authentication = Authentication(BotConfig(settings))
    return CloudAdapter(authentication), authentication
