"""Reading a delivery before anything in it is trusted: the source's signing secret (a blank one signs nothing:
anyone could compute an HMAC keyed with ""), a signature header as bytes (aiohttp keeps a byte that is not UTF-8
as a lone surrogate, which `str.encode()` refuses), and a JSON body read with bot.json_input's depth and number
limits, so a hostile body is a BadPayload (400), never a RecursionError or an overflow."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Literal

from adapters.sources.base import BadPayload, Refused, SourceConfig
from bot.json_input import BadJSON, loads


def signing_secret(config: SourceConfig, name: str = "secret") -> str:
    """The source's secret `name`; Refused when it is missing or blank (a row stored before add refused those)."""
    value = config.secrets.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"no --{name.replace('_', '-')} is registered for this source")
    return value


def header_bytes(value: str) -> bytes:
    """A received header, trimmed, as ASCII bytes for `hmac.compare_digest`; any other character becomes "?",
    which no base64 or hex signature holds, so it simply doesn't match."""
    return value.strip().encode("ascii", "replace")


def signed(given: str, key: str | bytes, message: bytes, algorithm: Literal["sha1", "sha256"],
           encoding: Literal["hex", "base64"]) -> bool:
    """Whether `given` (a header's signature, as sent) is the HMAC of `message` under `key`, in the tool's
    encoding; compared in constant time. Hex is compared without regard to case."""
    digest = hmac.new(key.encode() if isinstance(key, str) else key, message, getattr(hashlib, algorithm)).digest()
    if encoding == "hex":
        return hmac.compare_digest(header_bytes(given.lower()), digest.hex().encode())
    return hmac.compare_digest(header_bytes(given), base64.b64encode(digest))


def json_body(raw: bytes | str) -> Any:
    """The delivery's JSON (strings are checked item by item by the ingest, so storable=False)."""
    try:
        return loads(raw, storable=False)
    except BadJSON as error:
        raise BadPayload(str(error)) from None
