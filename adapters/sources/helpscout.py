"""Help Scout satisfaction ratings, by webhook (Manage > Apps > Webhooks, event "Rating Received").

Signature (https://developer.helpscout.com/webhooks): X-HelpScout-Signature is base64(HMAC-SHA1(secret key, raw
body)); X-HelpScout-Event names the event. Only `satisfaction.ratings` is read; other events the webhook may also
be subscribed to are ignored.

Scale: Great → csat 5, Okay → csat 3, Not Good (Bad, not_good) → csat 1. "unknown" keeps no score.
The item id is the rating id; a changed rating (same id) updates the item. The webhook's Rating object
(ticketId, mailbox, customer.emails[]) and the Mailbox API's (conversationId, conversationNumber,
customer.email) are both read. The url opens the conversation; the mailbox's name is the product area.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.sources.base import BadPayload, Delivery, Kind, Option, Refused, SourceConfig, Translated
from adapters.sources.inbound import signed, signing_secret
from bot.json_input import BadJSON, loads

SIGNATURE = "X-HelpScout-Signature"
EVENT = "X-HelpScout-Event"
RATING_EVENT = "satisfaction.ratings"
CONVERSATION = "https://secure.helpscout.net/conversation/{id}"
_SCALE = {"great": 5.0, "okay": 3.0, "not good": 1.0, "not_good": 1.0, "bad": 1.0}


def verify(delivery: Delivery, config: SourceConfig) -> None:
    secret = signing_secret(config)
    given = delivery.headers.get(SIGNATURE)
    if not given:
        raise Refused(f"{SIGNATURE} is missing")
    if not signed(given, secret, delivery.body, "sha1", "base64"):
        raise Refused("the signature does not match")


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    event = delivery.headers.get(EVENT)
    if event and event != RATING_EVENT:
        return Translated()
    try:
        data = loads(delivery.body, storable=False)
    except BadJSON as error:
        raise BadPayload(str(error)) from None
    item = rating_item(data, config.name, delivery.received_at.isoformat())
    return Translated(items=[item] if item else [])


def rating_item(rating: Any, source: str, received: str) -> dict[str, Any] | None:
    if not isinstance(rating, dict) or "rating" not in rating:
        raise BadPayload("not a Help Scout rating: expected {id, rating, comments, customer, ticketId}")
    rid = rating.get("id")
    if rid in (None, "") or isinstance(rid, bool | dict | list):
        raise BadPayload("the rating needs its id")
    score = _score(rating.get("rating"))
    text = _text(rating.get("comments"))
    if score is None and not text:
        return None  # "unknown" and no words: nothing to hear
    item: dict[str, Any] = {"id": str(rid), "source": source, "text": text,
                            "created_at": rating.get("createdAt") or received}
    if score is not None:
        item["score"], item["score_type"] = score, "csat"
    if customer := _customer(rating.get("customer")):
        item["customer"] = customer
    conversation = rating.get("conversationId") or rating.get("ticketId")
    if isinstance(conversation, int | str) and not isinstance(conversation, bool) and str(conversation).isdigit():
        number = rating.get("conversationNumber")
        tail = f"/{number}" if isinstance(number, int) and not isinstance(number, bool) else ""
        item["url"] = CONVERSATION.format(id=conversation) + tail
    mailbox = rating.get("mailbox")
    if isinstance(mailbox, dict) and mailbox.get("name") not in (None, ""):
        item["product_area"] = _text(mailbox["name"])
    return item


def _score(value: Any) -> float | None:
    if not isinstance(value, str):
        raise BadPayload("rating must be Great, Okay or Not Good")
    word = value.strip().lower()
    if word == "unknown":
        return None
    if word not in _SCALE:
        raise BadPayload(f"rating {value[:40]!r} is not Great, Okay or Not Good")
    return _SCALE[word]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _customer(customer: Any) -> dict[str, str] | None:
    if not isinstance(customer, dict):
        return None
    name = " ".join(_text(customer.get(k)) for k in ("firstName", "lastName") if customer.get(k)).strip()
    email = customer.get("email")
    emails = customer.get("emails")
    if not email and isinstance(emails, list) and emails and isinstance(emails[0], dict):
        email = emails[0].get("value")
    found = {"name": name, "email": _text(email)}
    return {k: v for k, v in found.items() if v} or None


KIND = Kind(
    name="helpscout",
    title="Help Scout satisfaction ratings",
    options=(Option("secret", "The webhook's Secret Key (Help Scout signs each delivery with it)", secret=True,
                    required=True),),
    verify=verify,
    translate=translate,
    setup="In Help Scout, Manage > Apps > Webhooks: paste this URL as the Callback URL, tick Rating Received, "
          "and give the same Secret Key you gave Earshot with --secret.",
)
