"""Every webhook kind's published payloads (tests/fixtures/sources/<tool>/), with each field in turn replaced by a
value of the wrong type (null, a list, an object, a huge number, "NaN", deep nesting, a lone surrogate): translate
answers BadPayload (a 400) or items the ingest either accepts or refuses with ValueError, never another exception
(a 400 by luck, and a traceback). The same for what the SurveyMonkey and Qualtrics fetches read from the API."""

from __future__ import annotations

import copy
import json
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from multidict import CIMultiDict

from adapters.sources import qualtrics, surveymonkey
from adapters.sources.base import BadPayload, Delivery, SourceConfig
from adapters.sources.kinds import KINDS
from adapters.sources.surveys import number
from bot.feedback.items import validate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"
OPTIONS = {
    "typeform": {"score_ref": "readable_ref_opinion_scale", "comment_ref": "readable_ref_long_text",
                 "title_ref": "readable_ref_short_text", "email_ref": "readable_ref_email"},
    "surveymonkey": {"api_key": "k", "score_question": "1", "comment_question": "2"},
    "qualtrics": {"api_url": "https://x", "score_question": "QID1", "comment_question": "QID2"},
}
DEEP = "__deep__"
"""Stands for an array nested 5,000 deep (json.dumps itself can't write one), put in after dumping."""
VARIANTS: list[Any] = [None, True, [], {}, [None], [{}], {"x": None}, 10**30, 10**400, -1.5, 1e308, "NaN", "1e999",
                       "", "\ud800", "a\x00b", "12", DEEP]
RAW_BODIES = [b"", b"null", b"[]", b"\xff\xfe", b"[" * 100_000, b'{"a":' * 50_000, b"\x00", b"{}"]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from paths(child, (*prefix, key))


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    document = copy.deepcopy(document)
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


def variants(document: Any) -> Iterator[tuple[str, Any]]:
    for path in paths(document):
        for value in VARIANTS:
            yield f"{'/'.join(map(str, path))} = {value!r:.30}", replaced(document, path, value)


def dumped(document: Any) -> str:
    return json.dumps(document).replace(json.dumps(DEEP), "[" * 5000 + "]" * 5000)


def problem(call: Callable[[], list[dict[str, Any]]]) -> str | None:
    """None when `call` raised BadPayload or gave items `validate` accepts or refuses with ValueError."""
    try:
        items = call()
    except BadPayload:
        return None
    except Exception as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return f"{type(error).__name__} at {Path(frame.filename).name}:{frame.lineno}"
    for item in items:
        try:
            validate(item)
        except ValueError:
            pass
        except Exception as error:
            return f"validate: {type(error).__name__}"
    return None


def translated(kind: str, body: bytes) -> Callable[[], list[dict[str, Any]]]:
    config = SourceConfig(name="fz", kind=kind, secrets={"secret": "s"}, options=OPTIONS.get(kind, {}))
    given = Delivery("POST", CIMultiDict(), body, {}, datetime(2026, 12, 7, tzinfo=UTC), "application/json")
    return lambda: KINDS[kind].translate(given, config).items  # type: ignore[misc]


JSON_FIXTURES = sorted((d.name, f.name) for d in FIXTURES.iterdir() if d.is_dir() and KINDS[d.name].translate
                       for f in d.glob("*.json"))


@pytest.mark.parametrize(("kind", "fixture"), JSON_FIXTURES)
def test_type_confused_fields_are_bad_payloads_or_valid_items(kind: str, fixture: str) -> None:
    document = json.loads((FIXTURES / kind / fixture).read_text(encoding="utf-8"))
    failures = {}
    for where, variant in variants(document):
        if found := problem(translated(kind, dumped(variant).encode("utf-8", "surrogatepass"))):
            failures.setdefault(found, where)
    assert failures == {}


def test_a_qualtrics_msg_with_type_confused_fields() -> None:
    fields = dict(parse_qsl((FIXTURES / "qualtrics" / "completed-response-sharedkey.form").read_text().strip()))
    failures = {}
    for where, variant in variants(json.loads(fields["MSG"])):
        body = urlencode({**fields, "MSG": dumped(variant)}, encoding="utf-8", errors="surrogatepass").encode()
        if found := problem(translated("qualtrics", body)):
            failures.setdefault(found, where)
    assert failures == {}


@pytest.mark.parametrize("kind", sorted(k for k, v in KINDS.items() if v.translate))
def test_hostile_raw_bodies_are_bad_payloads(kind: str) -> None:
    assert {body[:12]: found for body in RAW_BODIES if (found := problem(translated(kind, body)))} == {}


def test_huge_numbers_are_no_numbers() -> None:
    assert [number(10**400), number(-(10**400)), number("1e999"), number("NaN"), number(10**30)] == [
        None, None, None, None, 1e30]


def test_surveymonkey_details_of_the_wrong_shape_give_no_answers() -> None:
    """What fetch reads (response details and the survey's definition), type-confused: no TypeError or
    AttributeError from `_answers`, `_choices` or `_item` (the webhook would answer 503 and the tool retry)."""
    details = json.loads((FIXTURES / "surveymonkey" / "response-details.json").read_text(encoding="utf-8"))
    config = SourceConfig(name="fz", kind="surveymonkey", options=OPTIONS["surveymonkey"])
    failures = {}
    for where, variant in variants(details):
        if not isinstance(variant, dict):
            continue
        def read(variant: dict[str, Any] = variant) -> list[dict[str, Any]]:
            surveymonkey._choices(variant)
            answers = surveymonkey._answers(variant, "1")
            return [surveymonkey._item(config, "r1", variant, number(answers[0].get("text")) if answers else None)]
        if found := problem(read):
            failures.setdefault(found, where)
    assert failures == {}


def test_qualtrics_values_of_the_wrong_type_give_valid_items() -> None:
    values = {"QID1": 9, "QID2": "Great support", "recordedDate": "2019-06-26T13:28:11Z", "userLanguage": "EN",
              "RecipientEmail": "ann@example.com"}
    config = SourceConfig(name="fz", kind="qualtrics", options=OPTIONS["qualtrics"])
    failures = {}
    for where, variant in variants(values):
        if isinstance(variant, dict) and (found := problem(lambda v=variant: [qualtrics._item(config, "R_1", v)])):
            failures.setdefault(found, where)
    assert failures == {}
