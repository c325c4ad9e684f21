"""What the survey tools' modules share: numbers and times as the tools write them, the respondent as a
customer, and one authenticated GET on a tool's API with its rate limits and refusals made clear."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from adapters.sources.api_json import read_body, retry_after
from adapters.sources.base import RetryAfter, SourceError

if TYPE_CHECKING:
    from aiohttp import ClientSession

LIMITS = {"name": 200, "email": 320, "segment": 100, "plan": 100, "country": 64}
"""The ingest's lengths (bot/feedback/items.py): longer values are cut rather than losing the whole item."""

_KEYS = {
    "email": ("email", "email_address", "emailaddress", "recipientemail", "e-mail"),
    "name": ("name", "full_name", "fullname"),
    "segment": ("segment",),
    "plan": ("plan",),
    "country": ("country",),
}
_FIRST = ("first_name", "firstname", "recipientfirstname")
_LAST = ("last_name", "lastname", "recipientlastname")
TIMEOUT = aiohttp.ClientTimeout(total=30)


def number(value: Any) -> float | None:
    """A finite number from a number or numeric text; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    try:
        result = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond a float (10**400)
        return None
    return result if math.isfinite(result) else None


def iso_utc(value: Any) -> str | None:
    """ISO 8601 in UTC from the tools' times ("2019-06-26 13:28:11" has no zone: the tools mean UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.isoformat()


def customer_from(fields: Mapping[str, Any]) -> dict[str, str] | None:
    """The respondent's email, name, segment, plan and country from the tool's fields, matched without regard
    to case ("Email", "email_address", "firstName" + "lastName", a custom variable named "plan")."""
    folded = {str(k).strip().lower(): v.strip() for k, v in fields.items() if isinstance(v, str) and v.strip()}
    found = {}
    for field, keys in _KEYS.items():
        if value := next((folded[k] for k in keys if k in folded), None):
            found[field] = value
    if "name" not in found:
        parts = [next((folded[k] for k in keys if k in folded), "") for keys in (_FIRST, _LAST)]
        if name := " ".join(p for p in parts if p):
            found["name"] = name
    return {k: v[: LIMITS[k]] for k, v in found.items()} or None


async def http_json(http: ClientSession, base: str, path: str, headers: Mapping[str, str], *, tool: str,
                    credential: str) -> dict[str, Any] | None:
    """GET base+path as JSON. None when it is gone (404: a response deleted since its event); RetryAfter when the
    tool asks to wait (429, or 503 with Retry-After) or can't be reached; SourceError naming the setting to check,
    never its value, when it refuses the credentials (api_json.get_json can't tell those apart)."""
    url = base.rstrip("/") + path
    try:
        async with http.get(url, headers=dict(headers), timeout=TIMEOUT, allow_redirects=False) as response:
            status = response.status
            if status == 429 or (status == 503 and "Retry-After" in response.headers):
                raise RetryAfter(retry_after(response.headers.get("Retry-After")),
                                 f"{tool} asked to wait (HTTP {status})")
            if status in (401, 403):
                raise SourceError(f"{tool} refused the credentials (HTTP {status}): check {credential}")
            if status == 404:
                return None
            if status >= 400:
                raise SourceError(f"{tool} answered HTTP {status} for {path}")
            body = await read_body(response, f"{tool} ({path})")
    except (TimeoutError, aiohttp.ClientConnectionError) as error:
        raise RetryAfter(60.0, f"{tool}'s API could not be reached ({type(error).__name__})") from None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise SourceError(f"{tool} answered {path} with something that is not JSON") from None
    if not isinstance(data, dict):
        raise SourceError(f"{tool} answered {path} with JSON that is not an object")
    return data
