"""Typeform: the `form_response` webhook, signed `Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>`.

Questions are picked by field ref (`--score-ref`, `--comment-ref`, `--title-ref`), never by position: Typeform
leaves skipped questions out of `answers[]`, and answers often carry only `field.id`, so a ref is first resolved to
its field id through `definition.fields`. A skipped question simply gives no score (or no text).

Score scale, unless `--score-type` forces one: an `nps` question is nps; an `opinion_scale` or `rating` question is
mapped by its range (`properties.steps`, `properties.start_at_one`): 0–10 → nps, 1–5 → csat, 1–7 → ces, 0–5 →
rating. With no properties in the payload Typeform's defaults are assumed (opinion scale 0–10, rating 1–5); any
other range needs `--score-type`, so a score is never stored against the wrong scale.

Hidden fields named email, name, segment, plan or country (any case) fill the customer (the email, else the answer
to `--email-ref`); the id is the response
`token`, the time `submitted_at`, the link `response_url` when the payload has one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.sources.base import BadPayload, Delivery, Kind, Option, Refused, SourceConfig, Translated
from adapters.sources.inbound import json_body, signed, signing_secret

SCORE_TYPES = ("nps", "csat", "ces", "rating")
_RANGES = {(0, 10): "nps", (1, 5): "csat", (1, 7): "ces", (0, 5): "rating"}
_CUSTOMER = ("name", "email", "segment", "plan", "country")


def verify(delivery: Delivery, config: SourceConfig) -> None:
    header = delivery.headers.get("Typeform-Signature", "")
    if not header.startswith("sha256="):
        raise Refused("no Typeform-Signature: sha256=… header")
    if not signed(header.removeprefix("sha256="), signing_secret(config), delivery.body, "sha256", "base64"):
        raise Refused("the Typeform-Signature does not match this source's secret")


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    score_ref, comment_ref = config.options.get("score_ref"), config.options.get("comment_ref")
    if not score_ref and not comment_ref:
        raise BadPayload("this source names neither --score-ref nor --comment-ref")
    if (forced := config.options.get("score_type")) and forced not in SCORE_TYPES:
        raise BadPayload(f"--score-type must be one of {', '.join(SCORE_TYPES)}")
    payload = _json(delivery.body)
    if payload.get("event_type") != "form_response":
        return Translated()  # e.g. form_response_partial: only finished responses are feedback
    response = payload.get("form_response")
    if not isinstance(response, dict) or not isinstance(response.get("token"), str) or not response["token"]:
        raise BadPayload("form_response.token is missing")
    fields = _fields(response)
    answers = _answers(response)
    item: dict[str, Any] = {"id": response["token"], "source": config.name}
    if score_ref:
        field = _field(fields, score_ref)
        answer = answers.get(field["id"])
        if answer is not None:
            value = answer.get("number")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadPayload(f"the answer to {score_ref!r} is not a number")
            item["score"] = value
            item["score_type"] = forced or _scale(field)
    title = _text(answers, _field(fields, ref)["id"]) if (ref := config.options.get("title_ref")) else ""
    body = _text(answers, _field(fields, comment_ref)["id"]) if comment_ref else ""
    item["text"] = "\n\n".join(part for part in (title, body) if part)
    customer = _customer(response.get("hidden"))
    email_ref = config.options.get("email_ref")
    if email_ref and "email" not in customer and (email := _text(answers, _field(fields, email_ref)["id"])):
        customer["email"] = email
    if customer:
        item["customer"] = customer
    if isinstance(url := response.get("response_url"), str) and url.startswith(("https://", "http://")):
        item["url"] = url
    if submitted := _time(response.get("submitted_at")):
        item["created_at"] = submitted
    return Translated(items=[item])


def _json(body: bytes) -> dict[str, Any]:
    payload = json_body(body)
    if not isinstance(payload, dict):
        raise BadPayload("the body is not a JSON object")
    return payload


def _fields(response: dict[str, Any]) -> list[dict[str, Any]]:
    definition = response.get("definition")
    fields = definition.get("fields") if isinstance(definition, dict) else None
    if not isinstance(fields, list):
        raise BadPayload("form_response.definition.fields is missing")
    return [f for f in fields if isinstance(f, dict) and isinstance(f.get("id"), str)]


def _field(fields: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    for field in fields:
        if field.get("ref") == ref or field["id"] == ref:  # a ref, or a field id where the form has no refs set
            return field
    raise BadPayload(f"the form has no question with ref {ref!r}")


def _answers(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answers = response.get("answers") or []
    if not isinstance(answers, list):
        raise BadPayload("form_response.answers is not a list")
    by_id: dict[str, dict[str, Any]] = {}
    for answer in answers:
        field = answer.get("field") if isinstance(answer, dict) else None
        if isinstance(field, dict) and isinstance(field.get("id"), str):
            by_id[field["id"]] = answer
    return by_id


def _text(answers: dict[str, dict[str, Any]], field_id: str) -> str:
    answer = answers.get(field_id)
    if answer is None:
        return ""  # skipped
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if isinstance(value, dict):  # a choice: {"label": …}
        value = value.get("label") or value.get("other")
    if not isinstance(value, str):
        raise BadPayload(f"the answer to field {field_id!r} is not text")
    return value.strip()


def _scale(field: dict[str, Any]) -> str:
    kind = field.get("type")
    if kind == "nps":
        return "nps"
    properties = field.get("properties") if isinstance(field.get("properties"), dict) else {}
    if kind == "opinion_scale":
        steps, start = properties.get("steps", 11), 1 if properties.get("start_at_one") else 0
    elif kind == "rating":
        steps, start = properties.get("steps", 5), 1
    else:
        raise BadPayload(f"the score question is a {kind!r} question with no scale: give --score-type")
    scale = (start, start + steps - 1) if isinstance(steps, int) and not isinstance(steps, bool) else None
    if scale is not None and scale in _RANGES:
        return _RANGES[scale]
    raise BadPayload("the score question's scale is none of nps 0–10, csat 1–5, ces 1–7, rating 0–5: "
                     "give --score-type")


def _customer(hidden: Any) -> dict[str, str]:
    if not isinstance(hidden, dict):
        return {}
    by_name = {str(k).strip().lower(): v for k, v in hidden.items()}
    return {key: by_name[key].strip() for key in _CUSTOMER
            if isinstance(by_name.get(key), str) and by_name[key].strip()}


def _time(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BadPayload("form_response.submitted_at is not an ISO 8601 time") from None
    return (when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)).isoformat()


KIND = Kind(
    name="typeform",
    title="Typeform",
    options=(
        Option("secret", "the webhook's secret (Typeform signs each delivery with it)", secret=True, required=True),
        Option("score_ref", "ref of the question whose answer is the score (nps, opinion scale or rating)"),
        Option("comment_ref", "ref of the question whose answer is the comment"),
        Option("title_ref", "ref of a short question stored as the comment's title"),
        Option("email_ref", "ref of an email question, the customer's email when no hidden field gives one"),
        Option("score_type", f"force the score's scale: one of {', '.join(SCORE_TYPES)}"),
    ),
    verify=verify,
    translate=translate,
    setup="In the form: Connect → Webhooks → Add a webhook: paste the URL, then Edit → Secret: paste the secret "
          "and turn the webhook on. Each question's ref is in the form's definition "
          "(GET https://api.typeform.com/forms/<form id>).",
)
