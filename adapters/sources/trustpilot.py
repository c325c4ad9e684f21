"""Trustpilot service reviews, by webhook (Trustpilot Business > Integrations > Developers > Webhooks).

Trustpilot takes a subscription URL and nothing else (no signature, no header), so the source gets a secret URL.
A body is {"events": [{"eventName", "version", "eventData": {id, title, text, stars, language, createdAt,
consumer{name}, tags[], referenceId, link}}]}.

- service-review-created / service-review-updated: one item, id = the review id (an update changes that item).
  Text is "Title\\n\\nText". Stars 1–5 are kept as score_type "rating" (0–5), the scale of the other public
  review sources (App Store, Google Play), so review stars compare across them.
- service-review-deleted: ignored (nothing stored, nothing removed; erasing a deleted review is not done here).
- Other events (product reviews, a tool's test): ignored.
Not stored: referenceId (the business's own order reference; there is no field for it), isVerified, locationId.
Trustpilot leaves the consumer's e-mail out of its webhooks.
"""

from __future__ import annotations

from typing import Any

from adapters.sources.base import BadPayload, Delivery, Kind, SourceConfig, Translated
from bot.json_input import BadJSON, loads

REVIEW_EVENTS = frozenset({"service-review-created", "service-review-updated"})
PUBLIC_REVIEW = "https://www.trustpilot.com/reviews/{id}"


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    try:
        data = loads(delivery.body, storable=False)
    except BadJSON as error:
        raise BadPayload(str(error)) from None
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise BadPayload('not a Trustpilot webhook: expected {"events": [{"eventName", "eventData"}]}')
    received = delivery.received_at.isoformat()
    items = []
    for event in events:
        if not isinstance(event, dict):
            raise BadPayload("each event must be a JSON object")
        if isinstance(name := event.get("eventName"), str) and name in REVIEW_EVENTS:
            items.append(review_item(event.get("eventData"), config.name, received))
    return Translated(items=items)


def review_item(review: Any, source: str, received: str) -> dict[str, Any]:
    if not isinstance(review, dict):
        raise BadPayload("eventData must be a JSON object")
    rid = review.get("id")
    if rid in (None, "") or isinstance(rid, bool | dict | list):
        raise BadPayload("eventData needs the review's id")
    rid = str(rid)
    parts = [_text(review.get(key)) for key in ("title", "text")]
    item: dict[str, Any] = {
        "id": rid, "source": source, "text": "\n\n".join(p for p in parts if p),
        "url": PUBLIC_REVIEW.format(id=rid), "created_at": review.get("createdAt") or received,
    }
    stars = review.get("stars")
    if stars is not None:
        item["score"], item["score_type"] = _number(stars), "rating"
    if isinstance(review.get("language"), str) and review["language"]:
        item["language"] = review["language"]
    consumer = review.get("consumer")
    if isinstance(consumer, dict) and consumer.get("name") not in (None, ""):
        item["customer"] = {"name": _text(consumer["name"])}
    tags = review.get("tags")
    if isinstance(tags, list):
        item["tags"] = [_text(t.get("value")) for t in tags if isinstance(t, dict) and t.get("value")]
    return item


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _number(value: Any) -> Any:
    """Stars as Trustpilot sends them (a number); a numeric string is read, anything else is left for the ingest
    to refuse with its reason."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


KIND = Kind(
    name="trustpilot",
    title="Trustpilot service reviews",
    translate=translate,
    setup="In Trustpilot Business > Integrations > Developers > Webhooks, add this URL as a subscription for "
          "New, Updated and Deleted service reviews, then press Test. Keep the URL secret: it is the key.",
)
