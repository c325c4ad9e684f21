"""Secrets cut out of an error message before it is logged or shown as a source's last error: a vendor's error
text may echo the credential it refused, as is or inside the Authorization value we built from it."""

from __future__ import annotations

import base64
import binascii
import re

from adapters.sources.base import SourceConfig

MIN_SECRET = 4
"""Shorter values are not cut (they would cut ordinary words); no kind accepts a secret that short anyway."""
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


def scrub(message: str, config: SourceConfig) -> str:
    """`message` without the source's secret values, any `Bearer …`/`Basic …` credential, and any base64 run
    that decodes to text holding a secret (a Basic value quoted without its scheme)."""
    secrets = [value for value in config.secrets.values() if value and len(value) >= MIN_SECRET]
    for value in secrets:
        message = message.replace(value, "…")
    message = _CREDENTIAL.sub(lambda match: f"{match[1]}{match[2]}…", message)
    return _BASE64.sub(lambda match: "…" if _holds_secret(match[0], secrets) else match[0], message)


def _holds_secret(text: str, secrets: list[str]) -> bool:
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text
                                   else None).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return False
    return any(value in decoded for value in secrets)
