"""Intercom: conversation ratings, from the `conversation.rating.added` webhook topic.

Signed `X-Hub-Signature: sha1=<hex HMAC-SHA1(the app's client secret, raw body)>`. The `ping` Intercom sends when
the webhook is saved is answered with nothing stored, as are other topics the app may be subscribed to.

One item per conversation, its id the conversation id: a rating changed later arrives with the same id and
updates the stored item. Rating 1–5 → csat; the remark (HTML) becomes plain text with its paragraphs kept. The
customer comes from the conversation's `user` (webhook API 1.x), its opening message's author when that is a
user or lead, or its first contact when the payload names one. The link is the conversation in Intercom's inbox:
`links.conversation_web` when the payload has it, otherwise built from `app_id`. The conversation's tags are kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.sources.base import BadPayload, Delivery, Kind, Option, Refused, SourceConfig, Translated
from adapters.sources.html_text import html_to_text
from adapters.sources.inbound import json_body, signed, signing_secret

TOPIC = "conversation.rating.added"
INBOX_URL = "https://app.intercom.com"
_PEOPLE = ("user", "lead", "contact")


def verify(delivery: Delivery, config: SourceConfig) -> None:
    header = delivery.headers.get("X-Hub-Signature", "")
    if not header.startswith("sha1="):
        raise Refused("no X-Hub-Signature: sha1=… header")
    if not signed(header.removeprefix("sha1="), signing_secret(config), delivery.body, "sha1", "hex"):
        raise Refused("the X-Hub-Signature does not match this source's client secret")


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    payload = json_body(delivery.body)
    if not isinstance(payload, dict) or payload.get("type") != "notification_event":
        raise BadPayload("not an Intercom notification_event")
    if payload.get("topic") != TOPIC:
        return Translated()  # ping, or a topic that holds no rating
    data = payload.get("data")
    conversation = data.get("item") if isinstance(data, dict) else None
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str | int):
        raise BadPayload("data.item is not a conversation")
    rating = conversation.get("conversation_rating")
    if not isinstance(rating, dict):
        raise BadPayload("the conversation has no conversation_rating")
    cid = str(conversation["id"])
    remark = rating.get("remark")
    item: dict[str, Any] = {"id": cid, "source": config.name,
                            "text": html_to_text(remark) if isinstance(remark, str) else ""}
    score = rating.get("rating")
    if isinstance(score, int | float) and not isinstance(score, bool):
        item["score"], item["score_type"] = score, "csat"
    if customer := _customer(conversation):
        item["customer"] = customer
    if tags := _tags(conversation.get("tags")):
        item["tags"] = tags
    if url := _url(conversation, payload.get("app_id"), config.options.get("inbox_url") or INBOX_URL):
        item["url"] = url
    if when := _iso(rating.get("created_at")) or _iso(payload.get("created_at")):
        item["created_at"] = when
    return Translated(items=[item])


def _iso(seconds: Any) -> str | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _customer(conversation: dict[str, Any]) -> dict[str, str]:
    source = conversation.get("source") if isinstance(conversation.get("source"), dict) else {}
    contacts = conversation.get("contacts")
    listed = contacts.get("contacts") if isinstance(contacts, dict) else None
    candidates = [conversation.get("user"), source.get("author"), *(listed if isinstance(listed, list) else [])]
    for person in candidates:
        if isinstance(person, dict) and person.get("type", "contact") in _PEOPLE:
            found = {k: person[k].strip() for k in ("name", "email") if isinstance(person.get(k), str)}
            if found := {k: v for k, v in found.items() if v}:
                return found
    return {}


def _tags(tags: Any) -> list[str]:
    listed = tags.get("tags") if isinstance(tags, dict) else None
    if not isinstance(listed, list):
        return []
    return [t["name"] for t in listed if isinstance(t, dict) and isinstance(t.get("name"), str) and t["name"].strip()]


def _url(conversation: dict[str, Any], app_id: Any, inbox: str) -> str | None:
    links = conversation.get("links")
    web = links.get("conversation_web") if isinstance(links, dict) else None
    if isinstance(web, str) and web.startswith("https://"):
        return web
    if isinstance(app_id, str) and app_id.isalnum():
        return f"{inbox.rstrip('/')}/a/apps/{app_id}/conversations/{conversation['id']}"
    return None


KIND = Kind(
    name="intercom",
    title="Intercom",
    options=(
        Option("secret", "the app's client secret (Developer Hub → your app → Basic information)", secret=True,
               required=True),
        Option("inbox_url", "Intercom's web address, for links (https://app.eu.intercom.com for EU workspaces)",
               default=INBOX_URL),
    ),
    verify=verify,
    translate=translate,
    setup="In Intercom's Developer Hub: your app → Webhooks: paste the URL as the endpoint and subscribe to "
          "conversation.rating.added. The secret is the app's client secret (Basic information).",
)
