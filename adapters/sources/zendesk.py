"""Zendesk satisfaction ratings: a trigger's signed webhook, and the List Satisfaction Ratings API as a pull.

Scale: legacy CSAT "good" → csat 5, "bad" → csat 1 (so the share of 4–5 equals Zendesk's satisfaction %); a number
1–5 (the newer CSAT survey) is kept as csat. "offered" / "unoffered" are not ratings and are skipped.
The item id is the ticket id: a trigger's webhook has no placeholder for the rating id, and a ticket carries one
rating, so a changed rating (or the same rating seen by the webhook and the pull) updates one item.

Signature (https://developer.zendesk.com/documentation/webhooks/verifying/): X-Zendesk-Webhook-Signature is
base64(HMAC-SHA256(signing secret, X-Zendesk-Webhook-Signature-Timestamp + raw body)). Zendesk names no replay
window; one older than 5 minutes (or more than 5 minutes ahead) of the time we received it is refused.
A webhook may also carry `Authorization: Bearer <token>` (its "Bearer token" authentication): with `--bearer` it is
required, with `--secret` the signature is required, with both both are.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from adapters.sources.api_json import get_json
from adapters.sources.base import (
    BadPayload,
    Delivery,
    Kind,
    Option,
    Page,
    Refused,
    SourceConfig,
    SourceError,
    Translated,
)
from adapters.sources.inbound import header_bytes, signed
from bot.json_input import BadJSON, loads

if TYPE_CHECKING:
    from aiohttp import ClientSession

SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
REPLAY_WINDOW = timedelta(minutes=5)
PAGE_SIZE = 100
_WORDS = {"good": 5, "bad": 1}
_SUBDOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def verify(delivery: Delivery, config: SourceConfig) -> None:
    secret, bearer = (value if isinstance(value := config.secrets.get(name), str) and value.strip() else None
                      for name in ("secret", "bearer"))
    if not secret and not bearer:
        raise Refused("no signing secret or bearer token is registered for this source")
    if bearer:
        given = delivery.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(header_bytes(token), bearer.encode()):
            raise Refused("the bearer token is missing or wrong")
    if secret:
        _check_signature(delivery, secret)


def _check_signature(delivery: Delivery, secret: str) -> None:
    signature, stamp = delivery.headers.get(SIGNATURE), delivery.headers.get(TIMESTAMP)
    if not signature or not stamp:
        raise Refused(f"{SIGNATURE} or {TIMESTAMP} is missing")
    signed_at = _stamp_time(stamp)
    if signed_at is None:
        raise Refused(f"{TIMESTAMP} is not a time")
    if abs(delivery.received_at - signed_at) > REPLAY_WINDOW:
        raise Refused("the signature's timestamp is more than 5 minutes from now (a replay?)")
    if not signed(signature, secret, stamp.encode() + delivery.body, "sha256", "base64"):
        raise Refused("the signature does not match")


def _stamp_time(stamp: str) -> datetime | None:
    """Zendesk sends ISO 8601 ("2021-07-25T10:00:00Z"); Unix seconds are read too."""
    try:
        if stamp.isdigit():
            return datetime.fromtimestamp(int(stamp), UTC)
        when = datetime.fromisoformat(stamp.strip())
    except (ValueError, OverflowError, OSError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    try:
        data = loads(delivery.body, storable=False)
    except BadJSON as error:
        raise BadPayload(str(error)) from None
    ratings = _ratings(data)
    received = delivery.received_at.astimezone(UTC).isoformat()
    return Translated(items=[item for r in ratings if (item := rating_item(r, config.name, received))])


def _ratings(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("satisfaction_ratings"), list):
        return list(data["satisfaction_ratings"])
    if isinstance(data, dict) and isinstance(data.get("satisfaction_rating"), dict):
        return [data["satisfaction_rating"]]
    if isinstance(data, dict) and "score" in data:
        return [data]
    raise BadPayload("not a Zendesk satisfaction rating: expected satisfaction_rating{ticket_id, score, comment}")


def rating_item(rating: Any, source: str, received: str) -> dict[str, Any] | None:
    """One satisfaction rating (the API's object, or the body the docs give for a trigger) → an ingest item;
    None when it is not a rating yet ("offered", "unoffered")."""
    if not isinstance(rating, dict):
        raise BadPayload("a satisfaction rating must be a JSON object")
    score = _score(rating.get("score"))
    if score is None:
        return None
    ticket = rating.get("ticket_id")
    if not isinstance(ticket, int | str) or isinstance(ticket, bool) or ticket == "":
        raise BadPayload("a satisfaction rating needs its ticket_id")
    item: dict[str, Any] = {
        "id": str(ticket), "source": source, "text": _text(rating.get("comment")), "score": score,
        "score_type": "csat", "created_at": rating.get("created_at") or rating.get("updated_at") or received,
        "updated_at": rating.get("updated_at"),
    }
    area = rating.get("group") or rating.get("group_id")
    if area not in (None, ""):
        item["product_area"] = str(area)
    if url := _ticket_link(rating.get("url"), ticket):
        item["url"] = url
    if customer := _customer(rating.get("requester")):
        item["customer"] = customer
    if tags := _tags(rating.get("tags"), rating.get("reason")):
        item["tags"] = tags
    return item


def _score(value: Any) -> float | None:
    if isinstance(value, bool):
        raise BadPayload("score must be good, bad or a number 1–5, not true or false")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise BadPayload("a satisfaction rating needs its score")
    word = value.strip().lower()
    if word in ("offered", "unoffered"):
        return None
    for name, points in _WORDS.items():  # the placeholder's words start with it: "Good, I'm satisfied"
        if word.startswith(name):
            return float(points)
    try:
        return float(word)
    except ValueError:
        raise BadPayload(f"score {value[:40]!r} is not good, bad or a number 1–5") from None


def _text(comment: Any) -> str:
    if comment is None:
        return ""
    return comment if isinstance(comment, str) else json.dumps(comment, ensure_ascii=False)


def _ticket_link(url: Any, ticket: Any) -> str | None:
    """The API object's url is its JSON; a person wants the ticket in the agent workspace."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return None
    parts = urlsplit(url)
    if "/api/v2/" in parts.path:
        return f"{parts.scheme}://{parts.netloc}/agent/tickets/{ticket}"
    return url


def _customer(requester: Any) -> dict[str, str] | None:
    if not isinstance(requester, dict):
        return None
    fields = {"name": requester.get("name"), "email": requester.get("email"),
              "segment": requester.get("organization")}
    customer = {k: str(v) for k, v in fields.items() if v not in (None, "")}
    return customer or None


def _tags(tags: Any, reason: Any) -> list[str]:
    found = tags.split() if isinstance(tags, str) else [str(t) for t in tags] if isinstance(tags, list) else []
    if isinstance(reason, str) and reason.strip():
        found.append(f"reason: {reason.strip()}")
    return found


async def pull(session: ClientSession, config: SourceConfig, cursor: str | None, now: datetime) -> Page:
    """List Satisfaction Ratings with score=received, oldest first, by cursor pagination. The saved cursor is
    {start, after, high, seen, skip}: `start` (Unix seconds) and `after` (Zendesk's after_cursor) resume a walk; once
    has_more is false the next walk starts at `high`, the newest created_at seen, skipping the ids in `seen`
    (those created in that same second), so no rating is ingested twice."""
    base = _base_url(config)
    auth = _authorization(config)
    if base is None or auth is None:
        return Page(items=[], cursor=cursor)  # a webhook-only source: nothing to pull
    state = _state(cursor, config, now)
    query = {"score": "received", "start_time": str(state["start"]), "page[size]": str(PAGE_SIZE)}
    if state["after"]:
        query["page[after]"] = state["after"]
    url = f"{base}/api/v2/satisfaction_ratings.json?{urlencode(query)}"
    data = await get_json(session, url, {"Authorization": auth, "Accept": "application/json"}, "Zendesk")
    if not isinstance(data.get("satisfaction_ratings"), list):
        raise SourceError("Zendesk's answer has no satisfaction_ratings list")
    received = now.astimezone(UTC).isoformat()
    items, high, seen, rejected = [], state["high"], set(state["seen"]), 0
    for rating in data["satisfaction_ratings"]:
        rid, created = _rating_key(rating)
        if created < state["start"] or (created == state["start"] and rid in state["skip"]):
            continue  # seen at the end of the previous walk
        try:
            item = rating_item(rating, config.name, received)
        except (ValueError, TypeError, OverflowError):  # BadPayload, or a number too big for a float
            item, rejected = None, rejected + 1  # one unreadable rating does not stop the others
        if item:
            items.append(item)
        if created > high:
            high, seen = created, set()
        if created == high:
            seen.add(rid)
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    after = meta.get("after_cursor")
    if meta.get("has_more") and isinstance(after, str) and after:
        walk = {"start": state["start"], "after": after, "high": high, "seen": sorted(seen), "skip": state["skip"]}
        return Page(items=items, cursor=json.dumps(walk), more=True, rejected=rejected)
    done = {"start": high, "after": None, "high": high, "seen": sorted(seen), "skip": sorted(seen)}
    return Page(items=items, cursor=json.dumps(done), rejected=rejected)


def _rating_key(rating: Any) -> tuple[str, int]:
    if not isinstance(rating, dict):
        return "", 0
    created = rating.get("created_at")
    try:
        when = datetime.fromisoformat(str(created)) if created else None
    except ValueError:
        when = None
    seconds = int(when.replace(tzinfo=when.tzinfo or UTC).timestamp()) if when else 0
    return str(rating.get("id")), seconds


def _state(cursor: str | None, config: SourceConfig, now: datetime) -> dict[str, Any]:
    if cursor:
        try:
            state = json.loads(cursor)
            return {"start": int(state["start"]), "after": state.get("after"), "high": int(state["high"]),
                    "seen": list(state.get("seen", [])), "skip": list(state.get("skip", []))}
        except (ValueError, KeyError, TypeError):
            raise SourceError("the saved Zendesk cursor is unreadable") from None
    try:
        days = float(config.options.get("backfill_days") or "30")
    except ValueError:
        raise SourceError("--backfill-days must be a number of days") from None
    start = int((now - timedelta(days=days)).timestamp())
    return {"start": start, "after": None, "high": start, "seen": [], "skip": []}


def _base_url(config: SourceConfig) -> str | None:
    if url := config.options.get("api_url"):
        return url.rstrip("/")
    subdomain = (config.options.get("subdomain") or "").lower()
    if not subdomain:
        return None
    if not _SUBDOMAIN.match(subdomain):
        raise SourceError("the subdomain must be the NAME of NAME.zendesk.com")
    return f"https://{subdomain}.zendesk.com"


def _authorization(config: SourceConfig) -> str | None:
    if oauth := config.secrets.get("oauth_token"):
        return f"Bearer {oauth}"
    email, token = config.options.get("email"), config.secrets.get("api_token")
    if email and token:
        return "Basic " + base64.b64encode(f"{email}/token:{token}".encode()).decode()
    return None


KIND = Kind(
    name="zendesk",
    title="Zendesk satisfaction ratings",
    options=(
        Option("secret", "The webhook's signing secret (Webhooks > the webhook > Reveal secret)", secret=True),
        Option("bearer", "The bearer token set on the Zendesk webhook (instead of, or with, --secret)", secret=True),
        Option("subdomain", "For the pull: NAME of NAME.zendesk.com"),
        Option("email", "For the pull: the Zendesk admin whose API token is given"),
        Option("api_token", "For the pull: a Zendesk API token (Admin Center > Apps and integrations > APIs)",
               secret=True),
        Option("oauth_token", "For the pull: an OAuth access token with read scope (instead of email + token)",
               secret=True),
        Option("api_url", "For tests: the API's base URL in place of https://NAME.zendesk.com"),
        Option("backfill_days", "How many days of ratings the first pull fetches", default="30"),
    ),
    verify=verify,
    translate=translate,
    pull=pull,
    setup="In Zendesk Admin Center > Apps and integrations > Webhooks, create a webhook (Trigger or automation) "
          "with this URL, POST, JSON; paste its signing secret as --secret. Then add a trigger per rating "
          "(Satisfaction is Good / Bad) that notifies it with the body in docs/sources.md.",
)
