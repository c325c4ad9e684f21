"""botbuilder's CloudAdapter and authentication built from Earshot's settings.

Connector clients are tuned so the outbox owns retries: msrest (under botbuilder) would otherwise retry
5xx answers three times with its own backoff inside one attempt and wait up to 100 s per request. They are
also reused across turns, per service URL and audience, as botbuilder's older BotFrameworkAdapter did: building
one costs about 6 ms of CPU (msrest's retry policy scans a list of status codes), twice per turn.
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

from bot.config import Settings

REQUEST_TIMEOUT_SECONDS = 20


class BotConfig:
    """The attribute names ConfigurationBotFrameworkAuthentication reads (MicrosoftAppId etc.)."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.teams_app_id
        self.APP_PASSWORD = settings.teams_app_password
        self.APP_TYPE = settings.teams_app_type
        self.APP_TENANTID = settings.teams_app_tenant_id


class _SharedConnectors(ConnectorFactory):
    """Hands out one single-attempt connector client per (service URL, audience), kept in `cache`."""

    def __init__(self, inner: ConnectorFactory, app_id: str | None,
                 cache: dict[tuple[str | None, str, str | None], ConnectorClient]) -> None:
        self._inner = inner
        self._app_id = app_id
        self._cache = cache

    async def create(self, service_url: str, audience: str) -> ConnectorClient:
        key = (self._app_id, service_url, audience)
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            client.config.retry_policy.policy = Retry(total=0, redirect=0, raise_on_status=False)
            client.config.connection.timeout = REQUEST_TIMEOUT_SECONDS
            self._cache[key] = client
        return client


class Authentication(ConfigurationBotFrameworkAuthentication):
    """Validates inbound tokens (none needed in emulator mode) and shares single-attempt connector clients."""

    def __init__(self, configuration: BotConfig) -> None:
        super().__init__(configuration)
        self._connectors: dict[tuple[str | None, str, str | None], ConnectorClient] = {}
        self._token_clients: dict[str | None, UserTokenClient] = {}

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        result.connector_factory = _SharedConnectors(result.connector_factory,
                                                     _app_id(result.claims_identity), self._connectors)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _SharedConnectors(super().create_connector_factory(claims_identity), _app_id(claims_identity),
                                 self._connectors)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        """Earshot signs no one in, but every turn asks for one: build it once per app id."""
        app_id = _app_id(claims_identity)
        client = self._token_clients.get(app_id)
        if client is None:
            client = self._token_clients[app_id] = await super().create_user_token_client(claims_identity)
        return client


def _app_id(identity: ClaimsIdentity) -> str | None:
    claims = identity.claims or {}
    return claims.get(AuthenticationConstants.AUDIENCE_CLAIM) or claims.get(AuthenticationConstants.APP_ID_CLAIM)


def build_cloud_adapter(settings: Settings) -> tuple[CloudAdapter, Authentication]:
    authentication = Authentication(BotConfig(settings))
    return CloudAdapter(authentication), authentication
