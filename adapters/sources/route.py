"""`/api/sources/<name>` and `/api/sources/<name>/<token>`: each registered tool's webhook.

The order is the attacker's: the size limit before the body is read, the body read (at most the limit) before the
name is looked up, then the tool's own authentication (its signature; for a tool that can only be given a URL, the
URL's token compared in constant time), and only then is anything in the payload read.

What the outside sees can't tell names apart: an unknown name, a wrong or missing token, a token on a signed
source and a wrong signature all answer the same 401 with the same body, and an unknown name costs the same
HMAC over the body a signature check does. The operator sees the difference: a known source counts the request
as refused and keeps the reason as its last error (`earshot sources list`). Methods other than POST answer 405
the same way whether the name exists or not, except a tool's handshake (SurveyMonkey HEAD, Qualtrics GET), which
must answer 200 before any event is signed, so a source that handshakes can be told to exist (its secret is
still needed to deliver anything).

Sources are read from the database at most once a second (their secrets decrypted once, not per request), so
`earshot sources add` and `remove` take effect within a second, in every process serving the route."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from adapters.ingest import MAX_ITEMS, PARSE_IN_THREAD_BYTES, read_at_most
from adapters.sources.base import BadPayload, Delivery, Kind, Refused, RetryAfter, SourceError, Translated
from adapters.sources.registry import Registered, Tallies, load_registered, secret_box
from adapters.sources.scrub import scrub
from bot.config import Settings
from bot.feedback.ingest import FeedbackIngest
from storage.columns import utcnow
from storage.engine import Database
from storage.secrets import SecretKeyError

log = logging.getLogger(__name__)

CACHE_SECONDS = 1.0
"""How long the sources read from the database are trusted: how soon a `sources add` or `remove` is heard."""
MAX_FETCH = 100
"""Ids one delivery may ask us to fetch from the tool's API (a tool's event names one response)."""
FETCH_RETRY_AFTER = 60
MAX_RETRY_AFTER = 3600
"""The longest Retry-After the route tells a tool, whatever its API asked of us: longer and a tool may give up."""
REFUSED = {"error": "refused: no such source, or a missing or wrong signature or token"}
_DECOY_KEY = os.urandom(32)


class SourceRoute:
    """Serves every registered source. `http` gives the runtime's shared client session (for kinds that fetch);
    `kinds` is read at each request (adapters.sources.kinds.KINDS)."""

    def __init__(self, settings: Settings, db: Database, keys: tuple[str, ...], ingest: FeedbackIngest,
                 kinds: Mapping[str, Kind], tallies: Tallies,
                 http: Callable[[], aiohttp.ClientSession | None]) -> None:
        self._settings = settings
        self._db = db
        self._keys = keys
        self._ingest = ingest
        self._kinds = kinds
        self._tallies = tallies
        self._http = http
        self._sources: dict[str, Registered] = {}
        self._loaded_at = -math.inf
        self._loading = asyncio.Lock()

    def mount(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/sources/{name}", self.handle)
        app.router.add_route("*", "/api/sources/{name}/{token}", self.handle)

    async def registered(self) -> dict[str, Registered]:
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            async with self._loading:
                if time.monotonic() - self._loaded_at > CACHE_SECONDS:
                    try:
                        box = secret_box(self._keys)
                    except SecretKeyError:  # no key: nothing can have been registered
                        self._sources = {}
                    else:
                        self._sources = await load_registered(self._db, box)
                    self._loaded_at = time.monotonic()
        return self._sources

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name, token = request.match_info["name"], request.match_info.get("token")
        if request.method != "POST":
            return await self._other_method(request.method, name, token)
        limit = self._settings.ingest_max_bytes
        if request.content_length is not None and request.content_length > limit:
            return _error(413, f"the body is larger than {limit} bytes")
        body = await read_at_most(request, limit)
        if body is None:
            return _error(413, f"the body is larger than {limit} bytes")
        received_at = utcnow()
        source = (await self.registered()).get(name)
        kind = self._kinds.get(source.config.kind) if source is not None else None
        if source is None or kind is None or kind.translate is None:
            hmac.new(_DECOY_KEY, body, hashlib.sha256).digest()  # the work a signature check does
            return web.json_response(REFUSED, status=401)
        delivery = Delivery(method=request.method, headers=request.headers, body=body, query=request.query,
                            received_at=received_at, content_type=request.content_type)
        refusal = self._refusal(kind, source, token, delivery)
        if refusal is not None:
            self._tallies.count(source.id, received_at, refused=1)
            self._tallies.failed(source.id, received_at, f"refused: {refusal}")
            return web.json_response(REFUSED, status=401)
        return await self._deliver(kind, source, delivery)

    async def _other_method(self, method: str, name: str, token: str | None) -> web.Response:
        """A tool's handshake answers 200 with an empty body; anything else is 405, known name or not."""
        source = (await self.registered()).get(name)
        kind = self._kinds.get(source.config.kind) if source is not None else None
        allow = "POST"
        if source is not None and kind is not None and kind.handshake and self._url_matches(kind, source, token):
            if method in kind.handshake:
                return web.Response(status=200)
            allow = ", ".join(["POST", *sorted(kind.handshake)])
        return web.json_response({"error": "use POST"}, status=405, headers={"Allow": allow})

    @staticmethod
    def _url_matches(kind: Kind, source: Registered, token: str | None) -> bool:
        """A secret-URL source is addressed with its token; a signed one without any."""
        if not kind.secret_url:
            return token is None
        return token is not None and source.token is not None and hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), source.token.encode())

    def _refusal(self, kind: Kind, source: Registered, token: str | None, delivery: Delivery) -> str | None:
        """Why the request is not from the tool, or None. Fails closed: a kind's unexpected error refuses."""
        if not self._url_matches(kind, source, token):
            return "the URL's token is wrong or missing" if kind.secret_url else \
                "this source is signed: its URL has no token"
        if kind.verify is None:
            return None
        try:
            kind.verify(delivery, source.config)
        except Refused as error:
            return str(error) or "the signature did not match"
        except Exception:
            log.exception("source %s: %s's signature check failed", source.config.name, kind.name)
            return "the signature could not be checked"
        return None

    async def _deliver(self, kind: Kind, source: Registered, delivery: Delivery) -> web.Response:
        config, at = source.config, delivery.received_at
        try:
            translated = await self._translate(kind, source, delivery)
        except BadPayload as error:
            self._tallies.count(source.id, at, rejected=1)
            self._tallies.failed(source.id, at, f"bad payload: {error}")
            return _error(400, str(error))
        if len(translated.items) > MAX_ITEMS or len(translated.fetch) > MAX_FETCH:
            self._tallies.failed(source.id, at, "a delivery held too many items")
            return _error(413, f"more than {MAX_ITEMS} items (or {MAX_FETCH} responses to fetch) in one delivery")
        items: list[Any] = list(translated.items)
        if translated.fetch:
            fetched = await self._fetch(kind, source, translated.fetch)
            if isinstance(fetched, web.Response):
                return fetched
            items += fetched
        for item in items:
            if isinstance(item, dict):
                item["source"] = config.name  # a payload never writes into another source's items
        result = await self._ingest.ingest(items)
        answer = result.to_json()
        self._tallies.count(source.id, at, accepted=result.accepted, updated=result.updated,
                            duplicates=result.duplicates, rejected=len(result.rejected))
        self._tallies.received(source.id, at)
        if result.rejected:
            first = result.rejected[0]
            self._tallies.failed(source.id, at, f"{len(result.rejected)} item(s) rejected, e.g. item "
                                                f"{first['index'] + 1} of the delivery: {first['error']}")
        return web.json_response(answer, status=202)

    async def _translate(self, kind: Kind, source: Registered, delivery: Delivery) -> Translated:
        assert kind.translate is not None
        try:
            if len(delivery.body) <= PARSE_IN_THREAD_BYTES:
                return kind.translate(delivery, source.config)
            return await asyncio.to_thread(kind.translate, delivery, source.config)
        except BadPayload:
            raise
        except Exception as error:  # a payload the kind didn't expect: the sender's retry would fail again
            log.exception("source %s: %s could not read a payload", source.config.name, kind.name)
            raise BadPayload(f"{kind.title} payload this version can't read ({type(error).__name__})") from None

    async def _fetch(self, kind: Kind, source: Registered, ids: list[str]) -> list[dict[str, Any]] | web.Response:
        """The responses the delivery named, from the tool's API; a 503 the tool retries when the API fails."""
        at = source.config.name
        session = self._http()
        if kind.fetch is None or session is None:
            log.error("source %s: %s named responses to fetch but can't fetch them now", at, kind.name)
            return _error(503, "responses can't be fetched right now; retry later",
                          retry_after=FETCH_RETRY_AFTER)
        now = utcnow()
        try:
            return await kind.fetch(session, source.config, ids)
        except RetryAfter as error:
            wait = retry_header(error.seconds)
            reason = f"{kind.title}'s API asked to wait {wait} s"
        except SourceError as error:
            wait, reason = FETCH_RETRY_AFTER, f"{kind.title}'s API: {scrub(str(error), source.config)}"
        except (aiohttp.ClientError, TimeoutError) as error:
            wait, reason = FETCH_RETRY_AFTER, f"{kind.title}'s API could not be reached ({type(error).__name__})"
        except Exception as error:
            log.exception("source %s: fetching from %s failed", at, kind.name)
            wait, reason = FETCH_RETRY_AFTER, f"fetching from {kind.title} failed ({type(error).__name__})"
        self._tallies.failed(source.id, now, reason)
        return _error(503, f"{reason}; nothing was stored, retry later", retry_after=wait)


def retry_header(seconds: float) -> int:
    """A wait as a Retry-After value: whole seconds in [1, MAX_RETRY_AFTER]; FETCH_RETRY_AFTER for inf or NaN."""
    if not math.isfinite(seconds):
        return FETCH_RETRY_AFTER
    return min(MAX_RETRY_AFTER, max(1, math.ceil(seconds)))


def _error(status: int, message: str, retry_after: float | None = None) -> web.Response:
    headers = {"Retry-After": str(retry_header(retry_after))} if retry_after is not None else None
    return web.json_response({"error": message}, status=status, headers=headers)
