"""The ingest contract: one feedback item, validated field by field, with readable errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.json_input import BadJSON, decode, loads, unstorable
from bot.text import clean

SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "rating": (0, 5)}


class BadBody(ValueError):
    """The body is not JSON, a JSON array, or NDJSON at all (HTTP 400)."""


def _storable(value: Any) -> Any:
    """Text both databases can hold: PostgreSQL refuses NUL, neither encodes a lone surrogate. Checked here so
    the item is rejected with a reason instead of failing the transaction it shares with other items (and
    before pydantic's own string check, whose words for a lone surrogate say less)."""
    if isinstance(value, str) and (why := unstorable(value)):
        raise ValueError(why)
    return value


def _encodable(value: Any) -> Any:
    """No lone surrogate; NUL may stay, for `clean` to drop with the other control characters."""
    if isinstance(value, str) and (why := unstorable(value, nul=False)):
        raise ValueError(why)
    return value


Stored = Annotated[str, BeforeValidator(_storable)]
Cleaned = Annotated[str, BeforeValidator(_encodable)]


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    name: Stored | None = Field(None, max_length=200)
    email: Stored | None = Field(None, max_length=320)
    segment: Stored | None = Field(None, max_length=100)
    plan: Stored | None = Field(None, max_length=100)
    country: Stored | None = Field(None, max_length=64)


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: Stored = Field(min_length=1, max_length=200)
    source: Stored = Field(min_length=1, max_length=100)
    text: Cleaned = Field("", max_length=20_000)
    """"" for a score given without a comment (a survey answered with no words); never empty without a score."""
    score: float | None = None
    score_type: Literal["nps", "csat", "ces", "rating"] | None = None
    customer: Customer | None = None
    tags: list[Cleaned] = Field(default_factory=list, max_length=50)
    product_area: Stored | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
    url: Stored | None = Field(None, max_length=2000, pattern=r"^https?://\S+$")
    created_at: datetime | None = None
    updated_at: datetime | None = None
    """The tool's own time of its last change: a delivery older than the stored one is a duplicate, not an edit."""

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

    @field_validator("text", mode="before")
    @classmethod
    def _no_text(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("text")
    @classmethod
    def _clean_text(cls, value: str) -> str:
        return clean(value)  # drops NUL with the other control characters

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        tags = [clean(t)[:60] for t in value]
        return [t for t in dict.fromkeys(tags) if t]

    @field_validator("created_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:  # in UTC, as stored: 0001-01-01T00:00+05:00 would fall before year 1
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range once in UTC") from None

    @model_validator(mode="after")
    def _score_in_range(self) -> FeedbackItem:
        if not self.text and self.score is None:
            raise ValueError("text: is required (it may be empty only beside a score)")
        if self.score is not None:
            given = self.score_type is not None
            kind = self.score_type or "nps"
            check_score(self.score, kind)
            self.score_type = kind
            if not given:  # defaulted, not given: an update keeps the stored item's scale (ingest.changes)
                self.model_fields_set.discard("score_type")
        return self


def check_score(score: float, kind: str) -> None:
    low, high = SCORE_RANGES[kind]
    if not low <= score <= high:
        raise ValueError(f"score {score:g} is outside {low}–{high} for {kind}")


def parse_body(raw: bytes | str) -> list[Any]:
    """One JSON object, a JSON array, or NDJSON → a list of raw items (validated later, one by one).

    Raises BadBody when nothing in it is JSON. An NDJSON line that is not JSON becomes a `_BadLine`
    placeholder so its index is reported as rejected while the other lines are kept. Strings are not checked
    for what storage can hold here: `validate` does that per item.
    """
    try:
        text = decode(raw).strip()
    except BadJSON as error:
        raise BadBody(str(error)) from None
    if not text:
        raise BadBody("the body is empty")
    try:
        data = loads(text, storable=False)
    except BadJSON as error:
        return _ndjson(text, error)
    return data if isinstance(data, list) else [data]


class _BadLine:
    def __init__(self, error: str) -> None:
        self.error = error


def _ndjson(text: str, whole: BadJSON) -> list[Any]:
    items: list[Any] = []
    good = 0
    for line in text.split("\n"):  # not splitlines(): JSON strings may hold U+2028, U+0085 and the like raw
        if not line.strip():
            continue
        try:
            items.append(loads(line, storable=False))
            good += 1
        except BadJSON as error:
            items.append(_BadLine(str(error)))
    if not good:
        reason = "" if len(items) > 1 else f" ({whole})"
        raise BadBody(f"the body is not JSON, a JSON array or NDJSON{reason}")
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
