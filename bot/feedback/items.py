"""The ingest contract: one feedback item, validated field by field, with readable errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.text import clean

SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "rating": (0, 5)}


class BadBody(ValueError):
    """The body is not JSON, a JSON array, or NDJSON at all (HTTP 400)."""


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    segment: str | None = Field(None, max_length=100)
    plan: str | None = Field(None, max_length=100)
    country: str | None = Field(None, max_length=64)


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=20_000)
    score: float | None = None
    score_type: Literal["nps", "csat", "ces", "rating"] | None = None
    customer: Customer | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    product_area: str | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    url: str | None = Field(None, max_length=2000, pattern=r"^https?://\S+$")
    created_at: datetime | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_may_be_a_number(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("score", mode="before")
    @classmethod
    def _score_is_a_number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        return value

    @field_validator("text")
    @classmethod
    def _clean_text(cls, value: str) -> str:
        value = clean(value)
        if not value:
            raise ValueError("text is empty")
        return value

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        tags = [clean(t)[:60] for t in value]
        return [t for t in dict.fromkeys(tags) if t]

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _score_in_range(self) -> FeedbackItem:
        if self.score is not None:
            kind = self.score_type or "nps"
            low, high = SCORE_RANGES[kind]
            if not low <= self.score <= high:
                raise ValueError(f"score {self.score:g} is outside {low}–{high} for {kind}")
            self.score_type = kind
        return self


def parse_body(raw: bytes | str) -> list[Any]:
    """One JSON object, a JSON array, or NDJSON → a list of raw items (validated later, one by one).

    Raises BadBody when nothing in it is JSON. An NDJSON line that is not JSON becomes a `_BadLine`
    placeholder so its index is reported as rejected while the other lines are kept.
    """
    text = raw.decode("utf-8", errors="strict") if isinstance(raw, bytes) else raw
    text = text.lstrip("\ufeff").strip()
    if not text:
        raise BadBody("the body is empty")
    try:
        data = json.loads(text)
    except ValueError:
        return _ndjson(text)
    return data if isinstance(data, list) else [data]


class _BadLine:
    def __init__(self, error: str) -> None:
        self.error = error


def _ndjson(text: str) -> list[Any]:
    items: list[Any] = []
    good = 0
    for line in text.split("\n"):  # not splitlines(): JSON strings may hold U+2028, U+0085 and the like raw
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
            good += 1
        except ValueError as error:
            items.append(_BadLine(f"not JSON: {error.msg} at column {error.colno}"))
    if not good:
        raise BadBody("the body is not JSON, a JSON array or NDJSON")
    return items


def validate(raw: Any) -> FeedbackItem:
    """Validate one raw item; ValueError carries a one-line reason naming the field."""
    if isinstance(raw, _BadLine):
        raise ValueError(raw.error)
    if not isinstance(raw, dict):
        raise ValueError(f"an item must be a JSON object, not {type(raw).__name__}")
    try:
        return FeedbackItem.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "is required"
        raise ValueError(f"{where}: {message}" if where else message) from None
