"""Two small kinds for testing the route, the registry and the command line without any real tool's module:
`signed` (an HMAC-SHA256 hex signature, a HEAD handshake, answers behind a loopback API) and `urlonly` (a secret
URL, a GET handshake, form-encoded bodies)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

import aiohttp

from adapters.sources.base import (
    BadPayload,
    Delivery,
    Kind,
    Option,
    Refused,
    RetryAfter,
    SourceConfig,
    SourceError,
    Translated,
)

SIGNATURE = "X-Test-Signature"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _verify(delivery: Delivery, config: SourceConfig) -> None:
    given = delivery.headers.get(SIGNATURE, "")
    if given == "explode":
        raise KeyError("a bug in the kind's check")
    if not hmac.compare_digest(given.encode(), sign(config.secrets["secret"], delivery.body).encode()):
        raise Refused("the X-Test-Signature does not match")


def _translate(delivery: Delivery, config: SourceConfig) -> Translated:
    try:
        payload = json.loads(delivery.body)
    except ValueError:
        raise BadPayload("the body is not JSON") from None
    if payload.get("crash"):
        return payload["missing"]  # a kind's bug on a payload it didn't expect: KeyError
    return Translated(items=list(payload.get("items", [])), fetch=list(payload.get("fetch", [])))


async def _fetch(session: aiohttp.ClientSession, config: SourceConfig, ids: list[str]) -> list[dict[str, Any]]:
    found = []
    for response_id in ids:
        async with session.get(f"{config.options['api_url']}/responses/{response_id}",
                               headers={"Authorization": f"Bearer {config.secrets['api_key']}"}) as response:
            if response.status == 429:
                raise RetryAfter(float(response.headers.get("Retry-After", "30")))
            if response.status != 200:
                raise SourceError(f"HTTP {response.status} for key {config.secrets['api_key']}")
            found.append(await response.json())
    return found


SIGNED = Kind(name="signed", title="Signed Test Tool", verify=_verify, translate=_translate, fetch=_fetch,
              handshake=frozenset({"HEAD"}), setup="Paste the URL into Settings → Webhooks.",
              options=(Option("secret", "the signing secret", secret=True, required=True),
                       Option("api_key", "an API key", secret=True),
                       Option("api_url", "the API's base URL", default="https://api.example.invalid"),
                       Option("welcome", "a file option", file=True)))


def _translate_form(delivery: Delivery, config: SourceConfig) -> Translated:
    form = parse_qs(delivery.body.decode())
    if "id" not in form:
        raise BadPayload("no id in the form")
    return Translated(items=[{"id": form["id"][0], "source": config.name, "text": form.get("text", [""])[0]}])


URLONLY = Kind(name="urlonly", title="URL-only Test Tool", translate=_translate_form, handshake=frozenset({"GET"}))


async def _pull(session: aiohttp.ClientSession, config: SourceConfig, cursor: str | None, now: Any) -> Any:
    raise SourceError("not pulled in these tests")


PULLED = Kind(name="pulled", title="Pulled Test Tool", pull=_pull, pull_every=3600, setup="Create an API key.")
