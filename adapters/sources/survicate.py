"""Survicate: one webhook per answered QUESTION ("on each question response"), all carrying the same
`responseUuid`, so the score and the comment of one response arrive as separate events.

Each event becomes one item with that response id and only the fields the event has: a score-only item has
text "" and no other answer; a comment-only item has the text and no `score` key at all. The ingest merges them
into one stored item (fields an item leaves out keep their stored value), so the order they arrive in does
not matter and a resend is a duplicate.

Authentication, as Survicate publishes it: `Hmac` is the lowercase hex HMAC-SHA256 of the raw body keyed with
the workspace's Signing Secret (required here); `Token` is the Verification Token in plain text, checked too
(in constant time) when `--token` is given.

Scores: an NPS answer's `choice.id` is the value 0–10 (`body` is "promoter", "passive" or "detractor"); a rating
or smiley-scale answer is stored when its `choice.body` is a number (rating 0–5 as "rating", smiley 1–5 as
"csat"); labels such as "Great" carry no number and are not guessed. Text answers and choice comments are the
text. Respondent attributes (email, name, first/last name, segment, plan, country) become the customer."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from adapters.sources.base import BadPayload, Delivery, Kind, Option, Refused, SourceConfig, Translated
from adapters.sources.inbound import header_bytes, json_body, signed, signing_secret
from adapters.sources.surveys import customer_from, iso_utc, number

NPS_GROUPS = frozenset({"promoter", "passive", "detractor"})
SMILEY = frozenset({"smiley_scale", "smiley", "csat"})


def verify(delivery: Delivery, config: SourceConfig) -> None:
    signature = delivery.headers.get("Hmac", "").strip().lower()
    if not signature:
        raise Refused("no Hmac header")
    if not signed(signature, signing_secret(config), delivery.body, "sha256", "hex"):
        raise Refused("Hmac does not match the body")
    token = config.secrets.get("token")
    if token and not hmac.compare_digest(header_bytes(delivery.headers.get("Token", "")), token.encode()):
        raise Refused("Token is not this source's verification token")


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    payload = json_body(delivery.body)
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict):
        raise BadPayload("not a Survicate webhook (no event)")
    answered = event.get("questionAnswered")
    if not isinstance(answered, dict):
        raise BadPayload("only Survicate's question-answered event is read: in the survey's webhook settings, "
                         "send notifications on each question response")
    return Translated(items=[item] if (item := _item(config, answered, delivery)) else [])


def _item(config: SourceConfig, answered: dict[str, Any], delivery: Delivery) -> dict[str, Any] | None:
    respondent = answered.get("respondent") if isinstance(answered.get("respondent"), dict) else {}
    survey = answered.get("survey") if isinstance(answered.get("survey"), dict) else {}
    response = answered.get("responseUuid") or (
        f"{survey.get('id')}:{respondent.get('uuid') or respondent.get('id')}"
        if survey.get("id") and (respondent.get("uuid") or respondent.get("id")) else None)
    if not response:
        raise BadPayload("the event has no responseUuid (nor survey and respondent ids)")
    score, text = _answer(answered)
    if score is None and not text:
        return None  # a contact form, date, matrix…: nothing the ingest stores on its own
    item: dict[str, Any] = {"id": str(response), "source": config.name, "text": text}
    if score is not None:
        item["score"], item["score_type"] = score
    if customer := customer_from(_attributes(respondent.get("attributes"))):
        item["customer"] = customer
    item["created_at"] = iso_utc(answered.get("timestamp")) or delivery.received_at.isoformat()
    return item


def _answer(answered: dict[str, Any]) -> tuple[tuple[float, str] | None, str]:
    """(score and its scale, or None; the respondent's words, or "")."""
    if isinstance(answered.get("text"), str):
        return None, answered["text"].strip()
    choice = answered.get("choice")
    if not isinstance(choice, dict):
        return None, ""
    comment = choice.get("comment").strip() if isinstance(choice.get("comment"), str) else ""
    kind = str(answered.get("type") or "").lower()
    body = str(choice.get("body") or "").strip()
    value = number(choice.get("id"))
    if (kind == "nps" or body.lower() in NPS_GROUPS) and value is not None and 0 <= value <= 10:
        return (value, "nps"), comment
    if (value := number(body)) is not None:
        if kind in SMILEY and 1 <= value <= 5:
            return (value, "csat"), comment
        if 0 <= value <= 5:
            return (value, "rating"), comment
    return None, comment


def _attributes(attributes: Any) -> Mapping[str, Any]:
    """Respondent attributes as a mapping: Survicate documents an object; its sample shows a list."""
    if isinstance(attributes, dict):
        return attributes
    if isinstance(attributes, list):
        pairs = (a for a in attributes if isinstance(a, dict))
        return {str(a.get("name") or a.get("key")): a.get("value") for a in pairs if a.get("name") or a.get("key")}
    return {}


KIND = Kind(
    name="survicate",
    title="Survicate",
    options=(
        Option("secret", "the Signing Secret (Integrations → Webhooks → Connect): checks the Hmac header",
               secret=True, required=True),
        Option("token", "the Verification Token (same page): checked against the Token header as well",
               secret=True),
    ),
    verify=verify,
    translate=translate,
    setup="In the survey: Connect → Webhooks, send notifications on each question response, endpoint = this URL.",
)
