"""Bot Connector failures as DeliveryErrors: what to retry (and when), what to give up on."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from msrest.exceptions import HttpOperationError

from bot.adapter import DeliveryError
from storage.columns import utcnow

RETRYABLE_STATUS = frozenset({408, 412, 429, 500, 502, 503, 504})
BLOCKED_STATUS = 403


@dataclass(frozen=True)
class ConnectorFailure:
    status: int
    code: str
    message: str
    retry_after: float | None


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def failure_of(error: HttpOperationError) -> ConnectorFailure:
    """Status, error code and Retry-After of a refused request (msrest keeps the raw response)."""
    response = error.response
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    detail = getattr(error.error, "error", None)  # ErrorResponse.error: {code, message}
    code = str(getattr(detail, "code", None) or "")
    message = str(getattr(detail, "message", None) or "")
    return ConnectorFailure(status, code, message, retry_after_seconds(headers.get("Retry-After")))


def delivery_error(failure: ConnectorFailure) -> DeliveryError:
    """429/412/5xx retry (honouring Retry-After); 403 (the person blocked the bot, or the bot was removed),
    404 (the conversation is gone) and every other refusal are final."""
    detail = f" {failure.code}" if failure.code else ""
    reason = f"Teams answered {failure.status}{detail}" + (f": {failure.message}" if failure.message else "")
    if failure.status in RETRYABLE_STATUS:
        return DeliveryError(reason, retryable=True, retry_after=failure.retry_after)
    if failure.status == 404:
        return DeliveryError(f"{reason} (the conversation no longer exists)", retryable=False)
    return DeliveryError(reason, retryable=False)
