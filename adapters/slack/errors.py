"""Slack Web API failures → DeliveryError: what the outbox retries (with Retry-After) and what it gives up on.

The client is built without slack_sdk's retry handlers: the outbox owns retries and pacing, so one failed call
is one failed attempt, recorded with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.adapter import DeliveryError

T = TypeVar("T")

TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
"""Error codes Slack documents as temporary. Every other code (channel_not_found, not_in_channel, is_archived,
account_inactive, invalid_auth, msg_too_long, invalid_blocks, …) is permanent: retrying cannot fix it."""
DEFAULT_RETRY_AFTER = 1.0


def _retry_after(error: SlackApiError) -> float:
    raw = (error.response.headers or {}).get("Retry-After") if error.response is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


def error_code(error: SlackApiError) -> str:
    data = error.response.data if error.response is not None else None
    code = data.get("error") if isinstance(data, dict) else None
    return str(code) if code else f"http_{error.response.status_code if error.response is not None else 'error'}"


def delivery_error(error: SlackApiError) -> DeliveryError:
    status = error.response.status_code if error.response is not None else 0
    code = error_code(error)
    if status == 429 or code == "ratelimited":
        return DeliveryError(f"ratelimited (HTTP {status})", retryable=True, retry_after=_retry_after(error))
    if status >= 500 or code in TRANSIENT:  # "it's possible some aspect of the operation succeeded" (Slack)
        return DeliveryError(f"{code} (HTTP {status})", retryable=True, maybe_delivered=True)
    return DeliveryError(code, retryable=False)


async def calling(call: Awaitable[T]) -> T:
    """Await one Web API call, turning its failure into a DeliveryError (timeouts and resets: retryable, and
    Slack may have acted on the call before the answer was lost)."""
    try:
        return await call
    except SlackApiError as error:
        raise delivery_error(error) from error
    except (TimeoutError, SlackRequestError, aiohttp.ClientError, ConnectionError) as error:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise DeliveryError(reason, retryable=True, maybe_delivered=True) from error
