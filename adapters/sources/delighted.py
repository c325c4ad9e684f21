"""Delighted: the `survey_response.created` / `.updated` webhook and the survey responses list API.

Delighted signs each webhook with the project's API key (there is no separate webhook secret):
`X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256(API key, raw body)>`. So one `--secret`, the API key,
serves both the webhook and the pull (HTTP basic auth, the key as user name).

A response usually arrives twice: `created` with the score, then `updated` once the comment is written (or
edited). Both carry the response id, so the second updates the stored item instead of being a duplicate.

Score scale by `survey_type`: nps and enps 0–10 → nps; csat and smileys 1–5 → csat; ces 1–7 → ces; five_star 1–5
→ rating. Other survey types (thumbs, pmf) keep the comment and store no score. Person properties named plan,
segment or country (any case; also "Delighted Country") fill the customer; a `locale` property (the language the
survey was sent in) becomes the item's language."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from adapters.sources.api_json import read_body, retry_after
from adapters.sources.base import (
    BadPayload,
    Delivery,
    Kind,
    Option,
    Page,
    Refused,
    RetryAfter,
    SourceConfig,
    SourceError,
    Translated,
)
from adapters.sources.inbound import json_body, signed, signing_secret

if TYPE_CHECKING:
    from aiohttp import ClientSession

API_URL = "https://api.delighted.com"
PER_PAGE = 100
"""The list API's maximum."""
_SCALES = {"nps": "nps", "enps": "nps", "csat": "csat", "smileys": "csat", "ces": "ces", "five_star": "rating"}
_PROPERTIES = {
    "plan": ("plan", "plan name", "subscription plan"),
    "segment": ("segment", "customer segment"),
    "country": ("country", "delighted country"),
}
_EVENTS = ("survey_response.created", "survey_response.updated")
_LOCALE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")


def verify(delivery: Delivery, config: SourceConfig) -> None:
    header = delivery.headers.get("X-Delighted-Webhook-Signature", "")
    if not header.startswith("sha256="):
        raise Refused("no X-Delighted-Webhook-Signature: sha256=… header")
    if not signed(header.removeprefix("sha256="), signing_secret(config), delivery.body, "sha256", "hex"):
        raise Refused("the X-Delighted-Webhook-Signature does not match this source's API key")


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    payload = json_body(delivery.body)
    if not isinstance(payload, dict):
        raise BadPayload("the body is not a JSON object")
    if payload.get("event_type") not in _EVENTS:
        return Translated()  # unsubscribe.created and the like: nothing to hear
    response = payload.get("event_data")
    if not isinstance(response, dict):
        raise BadPayload("event_data is missing")
    return Translated(items=[item(response, config.name)])


def item(response: dict[str, Any], source: str) -> dict[str, Any]:
    """One survey response, from a webhook's `event_data` or the list API (with `expand[]=person`)."""
    rid = response.get("id")
    if isinstance(rid, bool) or not isinstance(rid, str | int) or not str(rid):
        raise BadPayload("the survey response has no id")
    comment = response.get("comment")
    text = comment.strip() if isinstance(comment, str) else ""  # a score alone: text stays "" (the ingest allows it)
    out: dict[str, Any] = {"id": str(rid), "source": source, "text": text,
                           "updated_at": _iso(response.get("updated_at"))}
    score = response.get("score")
    scale = _SCALES.get(str(response.get("survey_type") or "nps"))
    if scale and isinstance(score, int | float) and not isinstance(score, bool):
        out["score"], out["score_type"] = score, scale
    if customer := _customer(response.get("person"), response.get("person_properties")):
        out["customer"] = customer
    tags = response.get("tags")
    if isinstance(tags, list) and (names := [t for t in tags if isinstance(t, str) and t.strip()]):
        out["tags"] = names
    if isinstance(url := response.get("permalink"), str) and url.startswith(("https://", "http://")):
        out["url"] = url
    if language := _language(response.get("person_properties")):
        out["language"] = language
    if created := _iso(response.get("created_at")):
        out["created_at"] = created
    return out


def _customer(person: Any, properties: Any) -> dict[str, str]:
    customer: dict[str, str] = {}
    if isinstance(person, dict):
        customer |= {k: person[k].strip() for k in ("name", "email") if isinstance(person.get(k), str)}
    if isinstance(properties, dict):
        by_name = {" ".join(str(k).replace("_", " ").lower().split()): v for k, v in properties.items()}
        for field, names in _PROPERTIES.items():
            value = next((by_name[n] for n in names if isinstance(by_name.get(n), str) and by_name[n].strip()), None)
            if value:
                customer[field] = value.strip()
    return {k: v for k, v in customer.items() if v}


def _language(properties: Any) -> str | None:
    """The `locale` Delighted surveys are sent in (a person property), e.g. "fr" or "pt-BR"."""
    if not isinstance(properties, dict):
        return None
    by_name = {str(k).strip().lower(): v for k, v in properties.items()}
    value = by_name.get("locale") or by_name.get("language")
    return value.strip() if isinstance(value, str) and _LOCALE.fullmatch(value.strip()) else None


def _iso(seconds: Any) -> str | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


async def pull(http: ClientSession, config: SourceConfig, cursor: str | None, now: datetime) -> Page:
    """One page of responses updated since the cursor, oldest update first.

    The cursor is JSON `{"t": last updated_at seen, "ids": [ids updated at that second], "page": n}`. `updated_since`
    is inclusive, so the responses of second `t` come back and the ids already taken are skipped; `page` moves on
    only when a whole page held nothing after `t` (more responses updated in one second than fit a page). An edited
    response has a new `updated_at`, so it comes again, as an update."""
    state = _cursor(cursor)
    t, seen, page = state["t"], set(state["ids"]), state["page"]
    params = {"per_page": str(PER_PAGE), "page": str(page), "order": "asc:updated_at", "expand[]": "person"}
    if t is not None:
        params["updated_since"] = str(t)
    url = config.options.get("api_url", API_URL).rstrip("/") + "/v1/survey_responses.json"
    headers = {"Accept": "application/json", "Authorization": aiohttp.encode_basic_auth(config.secrets["secret"], "")}
    try:
        async with http.get(url, params=params, headers=headers) as answer:
            if answer.status in (429, 503):
                raise RetryAfter(retry_after(answer.headers.get("Retry-After")), f"Delighted answered {answer.status}")
            if answer.status == 401:
                raise SourceError("Delighted refused the API key (401)")
            if answer.status != 200:
                raise SourceError(f"Delighted answered {answer.status}")
            responses = json.loads(await read_body(answer, "Delighted"))
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise SourceError(f"Delighted's API could not be read: {type(error).__name__}") from None
    if not isinstance(responses, list):
        raise SourceError("Delighted's answer is not a list of survey responses")
    items, newest, at_newest, rejected = [], t, set(seen), 0
    for response in responses:
        if not isinstance(response, dict):
            rejected += 1
            continue
        when = _when(response)
        rid = str(response.get("id"))
        if t is not None and (when < t or (when == t and rid in seen)):
            continue
        try:
            items.append(item(response, config.name))
        except BadPayload:
            rejected += 1  # still moves the cursor past it, so it is not fetched again
        if newest is None or when > newest:
            newest, at_newest = when, set()
        if when == newest:
            at_newest.add(rid)
    full = len(responses) >= PER_PAGE
    # updated_since moves on (page 1), or a full page all at second t: the rest of that second is further on
    next_page = 1 if newest != t else page + 1 if full else page
    state = {"t": newest, "ids": sorted(at_newest), "page": next_page}
    return Page(items=items, cursor=json.dumps(state), more=full, rejected=rejected)


def _when(response: dict[str, Any]) -> int:
    for key in ("updated_at", "created_at"):
        value = response.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def _cursor(cursor: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {"t": None, "ids": [], "page": 1}
    if cursor:
        try:
            saved = json.loads(cursor)
        except ValueError:
            saved = None
        if isinstance(saved, dict):
            if isinstance(saved.get("t"), int):
                state["t"] = saved["t"]
            if isinstance(saved.get("ids"), list):
                state["ids"] = [str(i) for i in saved["ids"]]
            if isinstance(saved.get("page"), int) and saved["page"] > 0:
                state["page"] = saved["page"]
    return state


KIND = Kind(
    name="delighted",
    title="Delighted",
    options=(
        Option("secret", "the project's API key: Delighted signs webhooks with it, and the pull reads with it",
               secret=True, required=True),
        Option("api_url", "the API's base URL", default=API_URL),
    ),
    verify=verify,
    translate=translate,
    pull=pull,
    pull_every=900.0,
    setup="In Delighted: Integrations → Webhooks: paste the URL for \"Response\" events (created and updated). "
          "The API key is under Integrations → API; Earshot also pulls past and edited responses with it.",
)
