"""Calls to a tool's JSON API, with its answers turned into what the pull runner acts on: JSON, RetryAfter (429,
or 503 with Retry-After) or SourceError (a message fit for `earshot sources list`: the status and the tool's own
short reason, never a header or a secret of ours)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from adapters.sources.base import RetryAfter, SourceError

if TYPE_CHECKING:
    from aiohttp import ClientResponse, ClientSession

DEFAULT_WAIT = 60.0
"""When a 429 says nothing readable of how long to wait."""
MIN_WAIT = 1.0
MAX_WAIT = 24 * 3600.0
"""A Retry-After is kept within [MIN_WAIT, MAX_WAIT]: a vendor's `0`, `99999999` or far-future date is no plan."""
MAX_BODY = 16 * 1024 * 1024
CHUNK = 64 * 1024
REASON_CHARS = 200


async def get_json(http: ClientSession, url: str, headers: Mapping[str, str], tool: str) -> dict[str, Any]:
    async with http.get(url, headers=dict(headers)) as response:
        return await _json(response, tool)


async def post_form_json(http: ClientSession, url: str, form: Mapping[str, str], tool: str) -> dict[str, Any]:
    async with http.post(url, data=dict(form)) as response:
        return await _json(response, tool)


async def read_body(response: ClientResponse, tool: str) -> bytes:
    """The whole body, to its end, however many pieces it arrives in; SourceError past MAX_BODY (told by
    Content-Length before reading, or counted while reading)."""
    too_big = SourceError(f"{tool} answered with more than {MAX_BODY // (1024 * 1024)} MB")
    if response.content_length is not None and response.content_length > MAX_BODY:
        raise too_big
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > MAX_BODY:
            raise too_big
    return bytes(body)


async def _json(response: ClientResponse, tool: str) -> dict[str, Any]:
    body = await read_body(response, tool)
    if response.status == 429 or (response.status == 503 and "Retry-After" in response.headers):
        raise RetryAfter(retry_after(response.headers.get("Retry-After")),
                         f"{tool} asked to wait (HTTP {response.status})")
    if response.status >= 400:
        raise SourceError(f"{tool} answered HTTP {response.status}{_reason(body)}")
    try:
        data = json.loads(body)
    except ValueError:
        raise SourceError(f"{tool} answered HTTP {response.status} with something that is not JSON") from None
    if not isinstance(data, dict):
        raise SourceError(f"{tool} answered with JSON that is not an object")
    return data


def retry_after(value: str | None, now: datetime | None = None) -> float:
    """Retry-After as seconds (RFC 9110: a number of seconds or an HTTP date), kept within [MIN_WAIT, MAX_WAIT];
    DEFAULT_WAIT when absent or unreadable (`inf`, `nan`, a negative number, junk)."""
    if not value:
        return DEFAULT_WAIT
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return DEFAULT_WAIT
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    else:
        if not math.isfinite(seconds) or seconds < 0:
            return DEFAULT_WAIT
    return min(MAX_WAIT, max(MIN_WAIT, seconds))


def _reason(body: bytes) -> str:
    """The tool's own words for an error, when it gives them in the usual places (JSON:API `errors[]`, Google's
    `error.message`, OAuth's `error_description`)."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    reason: Any = None
    if isinstance(data, dict):
        errors, error = data.get("errors"), data.get("error")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            reason = errors[0].get("detail") or errors[0].get("title")
        elif isinstance(error, dict):
            reason = error.get("message")
        else:
            reason = data.get("error_description") or error
    return f": {reason.strip()[:REASON_CHARS]}" if isinstance(reason, str) and reason.strip() else ""
