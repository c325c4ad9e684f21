"""Qualtrics: an event subscription (`surveyengine.completedResponse.<SurveyID>`) names a response, and the
response is read back over the v3 API (`GET /API/v3/surveys/{survey}/responses/{response}`, `X-API-TOKEN`).

Qualtrics posts the event FORM-ENCODED (Topic, Status, SurveyID, ResponseID, CompletedDate, BrandID…), and the
publication URL must answer `GET` too. A subscription created with a `sharedKey` is posted as `Topic`, `HMAC`
and `MSG` (the same fields as JSON); Qualtrics does not publish how that HMAC is computed (a 128-hex-digit
digest, keyed somehow from the shared key), so it can't be verified faithfully. The source therefore gets a
secret URL (`/api/sources/<name>/<token>`), compared in constant time by the route: that token is what
authenticates Qualtrics. `encrypt: true` subscriptions can't be read (the cipher isn't published either).

The score is the value of the question id `--score-question` (`values.QID1`: an NPS question's value is its
0–10 choice), on the scale `--score-type` names; the comment is `--comment-question` (`QID2_TEXT`). A skipped
question is absent from `values`, so its score or comment is simply left out. Email, name, segment, plan and
country come from embedded data or the contact fields; `userLanguage` is the language; `recordedDate` the time."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from adapters.sources.base import BadPayload, Delivery, Kind, Option, SourceConfig, SourceError, Translated
from adapters.sources.surveys import customer_from, http_json, iso_utc, number
from bot.json_input import BadJSON, loads

if TYPE_CHECKING:
    from aiohttp import ClientSession

TOPIC = "surveyengine.completedResponse"
_SURVEY = re.compile(r"^SV_[A-Za-z0-9]{1,40}$")
_RESPONSE = re.compile(r"^R_[A-Za-z0-9]{1,40}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


def translate(delivery: Delivery, config: SourceConfig) -> Translated:
    try:
        fields = dict(parse_qsl(delivery.body.decode("utf-8"), keep_blank_values=True, max_num_fields=100))
    except (UnicodeDecodeError, ValueError):
        raise BadPayload("the body is not a form (application/x-www-form-urlencoded) in UTF-8") from None
    topic = fields.get("Topic", "")
    if not topic:
        raise BadPayload("not a Qualtrics event (no Topic field)")
    if TOPIC not in topic:
        return Translated()  # another topic on the same URL: nothing to store
    if "MSG" in fields:  # a subscription with a sharedKey: the event is the JSON in MSG
        try:
            message = loads(fields["MSG"], storable=False)
        except BadJSON as error:
            raise BadPayload(f"MSG is not JSON ({error}): create the subscription with \"encrypt\": false") from None
        if not isinstance(message, dict):
            raise BadPayload("MSG is not a JSON object")
        fields = {str(k): str(v) for k, v in message.items()}
    survey, response = fields.get("SurveyID", ""), fields.get("ResponseID", "")
    if not _SURVEY.match(survey) or not _RESPONSE.match(response):
        raise BadPayload("the event lacks a readable SurveyID (SV_…) or ResponseID (R_…)")
    return Translated(fetch=[f"{survey}/{response}"])


async def fetch(http: ClientSession, config: SourceConfig, ids: list[str]) -> list[dict[str, Any]]:
    base = config.options.get("api_url", "")
    if not base:
        raise SourceError("no --api-url: give the datacenter's address, e.g. https://yul1.qualtrics.com")
    headers = {"X-API-TOKEN": config.secrets.get("api_token", ""), "Accept": "application/json"}
    items = []
    for key in ids:
        survey, _, response = key.partition("/")
        if not (_SURVEY.match(survey) and _RESPONSE.match(response)):
            raise SourceError(f"not a survey/response id pair: {key[:80]!r}")
        answer = await http_json(http, base, f"/API/v3/surveys/{survey}/responses/{response}", headers,
                                 tool="Qualtrics", credential="--api-token (and --api-url, the datacenter)")
        result = (answer or {}).get("result")
        if isinstance(result, dict) and isinstance(result.get("values"), dict):
            items.append(_item(config, str(result.get("responseId") or response), result["values"]))
    return items


def _item(config: SourceConfig, response: str, values: dict[str, Any]) -> dict[str, Any]:
    comment_question = config.options.get("comment_question", "")
    comment = values.get(comment_question) if comment_question else None
    item: dict[str, Any] = {"id": response, "source": config.name,
                            "text": comment.strip() if isinstance(comment, str) else ""}
    score_question = config.options.get("score_question", "")
    if score_question and (score := number(values.get(score_question))) is not None:
        item["score"], item["score_type"] = score, config.options.get("score_type") or "nps"
    if customer := customer_from(values):
        item["customer"] = customer
    if when := iso_utc(values.get("recordedDate") or values.get("endDate")):
        item["created_at"] = when
    if language := _language(values.get("userLanguage")):
        item["language"] = language
    return item


def _language(value: Any) -> str | None:
    """Qualtrics' codes ("EN", "PT-BR", "ZH-S") as the ingest takes them: "en", "pt-br", "zh"."""
    if not isinstance(value, str) or not value.strip():
        return None
    code = value.strip().lower()
    if _LANGUAGE.match(code):
        return code
    primary = re.split(r"[-_]", code)[0]
    return primary if _LANGUAGE.match(primary) else None


KIND = Kind(
    name="qualtrics",
    title="Qualtrics",
    options=(
        Option("api_token", "a Qualtrics API token (Account Settings → Qualtrics IDs → API)", secret=True,
               required=True),
        Option("api_url", "your datacenter's address, e.g. https://yul1.qualtrics.com (Qualtrics IDs → User)",
               required=True),
        Option("score_question", "question id whose value is the score, e.g. QID1 (the NPS question)"),
        Option("score_type", "the score's scale: nps (0–10), csat (1–5), ces (1–7) or rating (0–5)", default="nps"),
        Option("comment_question", "the comment's field, e.g. QID2_TEXT"),
    ),
    translate=translate,
    fetch=fetch,
    handshake=frozenset({"GET"}),
    setup="Subscribe over Qualtrics' API: POST /API/v3/eventsubscriptions with topics "
          "surveyengine.completedResponse.<SurveyID>, this URL as publicationUrl and \"encrypt\": false.",
)
