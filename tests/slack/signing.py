"""Signed Slack requests, as Slack sends them: form-encoded commands and interactions, JSON events."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
FORM = "application/x-www-form-urlencoded"


def headers(body: str, *, secret: str = SECRET, timestamp: int | None = None, content_type: str = FORM,
            retry: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signed = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body),
    }
    if retry is not None:
        signed |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return signed


def command(fields: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body = urlencode(fields)
    return body, headers(body)


def interaction(payload: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)})
    return body, headers(body)


def event(envelope: dict[str, Any], retry: int | None = None) -> tuple[str, dict[str, str]]:
    body = json.dumps(envelope)
    return body, headers(body, content_type="application/json", retry=retry)
