"""SurveyMonkey: a webhook that names a response, and the response details read back over the v3 API.

SurveyMonkey creates a webhook only once its subscription URL answers `HEAD` with 200. Each callback is signed:
`Sm-Signature` is base64(HMAC-SHA1(key = "<API key>&<API secret>" of the app, raw body)) and `Sm-Apikey` carries
the app's API key (Client ID). The event holds ids only (`object_id` is the response id, `resources.survey_id`
its survey), so `translate` hands "survey_id/response_id" to `fetch`, which reads
`GET /v3/surveys/{survey}/responses/{response}/details`.

Which question is the score and which the comment is chosen by question id (`--score-question`,
`--comment-question`); answers are matched by id, never by position, so a skipped question is simply absent.
A choice answer (NPS, star rating) carries only a `choice_id`: its number is read from the survey's own
definition (`GET /v3/surveys/{survey}/details`): the choice's text when it is a number ("0"…"10" on an NPS
question), else its `weight`, else its position. The number is stored on the scale `--score-type` names (nps
0–10 by default; csat 1–5, ces 1–7 or rating 0–5 for other questions). Only completed responses are stored;
`response_updated` on a completed response is an edit and updates the stored item."""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING, Any

from adapters.sources.base import (
    BadPayload,
    Delivery,
    Kind,
    Option,
    Refused,
    SourceConfig,
    SourceError,
    Translated,
)
from adapters.sources.inbound import header_bytes, json_body, signed, signing_secret
from adapters.sources.surveys import customer_from, http_json, iso_utc, number

if TYPE_CHECKING:
    from aiohttp import ClientSession

API = "https://api.surveymonkey.com"
EVENTS = frozenset({"response_completed", "response_updated"})
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def verify(delivery: Delivery, config: SourceConfig) -> None:
    signature = delivery.headers.get("Sm-Signature", "").strip()
    if not signature:
        raise Refused("no Sm-Signature header")
    api_key = config.options.get("api_key", "")
    sent_key = delivery.headers.get("Sm-Apikey")
    if sent_key is not None and not hmac.compare_digest(header_bytes(sent_key), api_key.encode()):
        raise Refused("Sm-Apikey is not this source's API key")
    key = f"{api_key}&{signing_secret(config)}".encode()
    if not signed(signature, key, delivery.body, "sha1", "base64"):
        raise Refused("Sm-Signature does not match the body")


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    event = json_body(delivery.body)
    if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
        raise BadPayload("not a SurveyMonkey webhook event (no event_type)")
    if event["event_type"] not in EVENTS:
        return Translated()  # response_created, collector_*, survey_*: nothing to store
    if event.get("object_type") != "response":
        raise BadPayload(f"a {event['event_type']} event for a {event.get('object_type')!r}, not a response")
    resources = event.get("resources") if isinstance(event.get("resources"), dict) else {}
    survey, response = str(resources.get("survey_id", "")), str(event.get("object_id", ""))
    if not _ID.match(survey) or not _ID.match(response):
        raise BadPayload("the event lacks a readable resources.survey_id or object_id")
    return Translated(fetch=[f"{survey}/{response}"])


async def fetch(http: ClientSession, config: SourceConfig, ids: list[str]) -> list[dict[str, Any]]:
    definitions: dict[str, dict[str, dict[str, Any]]] = {}
    items = []
    for key in ids:
        survey, _, response = key.partition("/")
        if not (_ID.match(survey) and _ID.match(response)):
            raise SourceError(f"not a survey/response id pair: {key[:80]!r}")
        details = await _get(http, config, f"/v3/surveys/{survey}/responses/{response}/details")
        if details is None or details.get("response_status") != "completed":
            continue  # deleted since the event, or still partial: the completing event brings it
        score = await _score(http, config, survey, details, definitions)
        items.append(_item(config, str(details.get("id") or response), details, score))
    return items


async def _get(http: ClientSession, config: SourceConfig, path: str) -> dict[str, Any] | None:
    headers = {"Authorization": f"bearer {config.secrets.get('access_token', '')}", "Accept": "application/json"}
    return await http_json(http, config.options.get("api_url") or API, path, headers, tool="SurveyMonkey",
                           credential="--access-token (the app needs the View Response Details scope)")


def _answers(details: dict[str, Any], question: str) -> list[dict[str, Any]]:
    for asked in _questions(details):
        if str(asked.get("id")) == question:
            return _dicts(asked.get("answers"))
    return []


def _questions(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The questions of every page of a response's or a survey's details; parts of another type are skipped."""
    return [question for page in _dicts(document.get("pages")) for question in _dicts(page.get("questions"))]


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


async def _score(http: ClientSession, config: SourceConfig, survey: str, details: dict[str, Any],
                 definitions: dict[str, dict[str, dict[str, Any]]]) -> float | None:
    question = config.options.get("score_question", "")
    answers = _answers(details, question) if question else []
    if not answers:
        return None
    answer = answers[0]
    if answer.get("text") is not None:  # a slider or numeric box
        return number(answer["text"])
    if "choice_id" not in answer:
        return None
    if survey not in definitions:
        definitions[survey] = _choices(await _get(http, config, f"/v3/surveys/{survey}/details") or {})
    choice = definitions[survey].get(str(answer["choice_id"]))
    return _choice_value(choice) if choice else None


def _choices(survey: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every choice of every question in the survey's definition, by choice id."""
    found = {}
    for question in _questions(survey):
        answers = question.get("answers")
        for choice in _dicts(answers.get("choices") if isinstance(answers, dict) else None):
            if isinstance(choice.get("id"), str | int) and not isinstance(choice["id"], bool):
                found[str(choice["id"])] = choice
    return found


def _choice_value(choice: dict[str, Any]) -> float | None:
    text = re.match(r"\s*(\d+(?:\.\d+)?)\b", str(choice.get("text") or ""))
    if text:
        return float(text.group(1))
    for key in ("weight", "position"):
        if (value := number(choice.get(key))) is not None:
            return value
    return None


def _item(config: SourceConfig, response: str, details: dict[str, Any], score: float | None) -> dict[str, Any]:
    comment_question = config.options.get("comment_question", "")
    comment = "\n".join(str(a["text"]).strip() for a in _answers(details, comment_question)
                        if comment_question and isinstance(a.get("text"), str) and a["text"].strip())
    item: dict[str, Any] = {"id": response, "source": config.name, "text": comment,
                            "updated_at": iso_utc(details.get("date_modified"))}
    if score is not None:
        item["score"], item["score_type"] = score, config.options.get("score_type") or "nps"
    metadata = details.get("metadata") if isinstance(details.get("metadata"), dict) else {}
    contact = metadata.get("contact") if isinstance(metadata.get("contact"), dict) else {}
    flat = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in contact.items()}
    flat.update({k: v for k, v in details.items() if k in ("email_address", "first_name", "last_name") and v})
    if isinstance(variables := details.get("custom_variables"), dict):
        flat.update(variables)
    if customer := customer_from(flat):
        item["customer"] = customer
    if when := iso_utc(details.get("date_modified") or details.get("date_created")):
        item["created_at"] = when
    url = details.get("analyze_url") or details.get("edit_url")
    if isinstance(url, str) and re.match(r"^https?://\S+$", url):
        item["url"] = url
    return item


KIND = Kind(
    name="surveymonkey",
    title="SurveyMonkey",
    options=(
        Option("secret", "the app's Secret (developer.surveymonkey.com → My Apps → Settings): signs Sm-Signature",
               secret=True, required=True),
        Option("api_key", "the app's API key / Client ID (the same page), sent as Sm-Apikey", required=True),
        Option("access_token", "the app's Access Token, to read the answers (scope View Response Details)",
               secret=True, required=True),
        Option("score_question", "id of the question whose answer is the score (e.g. the NPS question)"),
        Option("score_type", "the score's scale: nps (0–10), csat (1–5), ces (1–7) or rating (0–5)", default="nps"),
        Option("comment_question", "id of the open-ended question whose answer is the comment"),
        Option("api_url", "SurveyMonkey's API base (https://api.eu.surveymonkey.com for EU accounts)", default=API),
    ),
    verify=verify,
    translate=translate,
    fetch=fetch,
    handshake=frozenset({"HEAD"}),
    setup="Create the webhook over SurveyMonkey's API (POST /v3/webhooks, event_type response_completed and "
          "response_updated, object_type survey) with this URL as subscription_url; it answers HEAD with 200.",
)
