"""`POST /api/feedback`: the ingest webhook (bearer token, size limit, JSON / array / NDJSON)."""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web

from bot.config import Settings
from bot.feedback.feature import Stations
from bot.feedback.items import BadBody, parse_body
from bot.feedback.mappings import MappingError

MAX_ITEMS = 5_000
"""Items in one request: a batch that large validates and commits in well under a second; more would hold the
request (and a group commit) long enough to stall others."""
PARSE_IN_THREAD_BYTES = 64 * 1024
"""Bodies past this are parsed off the event loop, so one large request doesn't stall every other one."""


class IngestRoute:
    def __init__(self, settings: Settings, stations: Stations) -> None:
        self._settings = settings
        self._stations = stations

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/api/feedback", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        refusal = self._check_token(request)
        if refusal is not None:
            return refusal
        limit = self._settings.ingest_max_bytes
        if request.content_length is not None and request.content_length > limit:
            return _error(413, f"the body is larger than {limit} bytes: send smaller batches")
        body = await read_at_most(request, limit)
        if body is None:
            return _error(413, f"the body is larger than {limit} bytes: send smaller batches")
        if body.count(b"\n") >= MAX_ITEMS:  # NDJSON: counted before any line is parsed
            return _too_many()
        try:
            mapping = self._stations.mapping(request.query["mapping"]) if "mapping" in request.query else None
            items = parse_body(body) if len(body) <= PARSE_IN_THREAD_BYTES else \
                await asyncio.to_thread(parse_body, body)
        except (MappingError, BadBody) as error:
            return _error(400, str(error))
        if len(items) > MAX_ITEMS:
            return _too_many()
        result = await self._stations.ingest.ingest(items, mapping)  # an outage: web.storage_unavailable's 503
        return web.json_response(result.to_json(), status=202)

    def _check_token(self, request: web.Request) -> web.Response | None:
        expected = self._settings.ingest_token
        if not expected:
            return _error(401, "ingest is off: set EARSHOT_INGEST_TOKEN on the server", challenge=True)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        given_bytes = given.strip().encode(errors="surrogateescape")  # header bytes that weren't UTF-8 stay bytes
        if scheme.lower() != "bearer" or not hmac.compare_digest(given_bytes, expected.encode()):
            return _error(401, "missing or wrong bearer token", challenge=True)
        return None


async def read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None once it passes `limit` bytes. One read returns only what has arrived so far,
    so a body sent in parts (or chunked, with no Content-Length to check first) is read until its end."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _too_many() -> web.Response:
    return _error(413, f"more than {MAX_ITEMS} items in one request: send smaller batches")


def _error(status: int, message: str, challenge: bool = False) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="earshot"'} if challenge else None
    return web.json_response({"error": message}, status=status, headers=headers)
