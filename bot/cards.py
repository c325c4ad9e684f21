"""Neutral cards and forms: what the core says, before a platform renders it.

Every string here is plain text. Renderers escape it for their platform (Block Kit mrkdwn, Adaptive Card
markdown, the sandbox's DOM), so customer text can never become markup or a mention.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

ButtonStyle = Literal["primary", "danger"] | None


@dataclass(frozen=True)
class Heading:
    text: str
    type: ClassVar[str] = "heading"


@dataclass(frozen=True)
class Text:
    text: str
    type: ClassVar[str] = "text"


@dataclass(frozen=True)
class Quote:
    """Customer words. `more` holds the rest when `text` was cut (bot.text.cut: `text` then ends in "…"),
    for a "show more" affordance. `lang` is their language as a BCP 47 tag (`th`, `pt-BR`) when known, so
    screen readers read them in it."""

    text: str
    more: str | None = None
    lang: str | None = None
    type: ClassVar[str] = "quote"

    @property
    def full(self) -> str:
        """The whole text, for renderers that show it at once."""
        return self.text.removesuffix("…") + self.more if self.more else self.text


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class Fields:
    fields: tuple[Field, ...]
    type: ClassVar[str] = "fields"


class When(str):
    """A moment in a line of context, like "closes Mon 07 Dec 11:00 Europe/Berlin": as a string it is that line,
    written in `zone` (for notifications, plain text and anything that reads it as text); renderers that know it
    show the moment in each reader's own zone instead (Slack's date token, Teams' DATE/TIME functions, the
    sandbox's <time>), after `lead`."""

    lead: str
    at: datetime
    zone: str

    def __new__(cls, lead: str, at: datetime, zone: str = "UTC") -> When:
        moment = at.astimezone(UTC)
        self = super().__new__(cls, f"{lead} {moment.astimezone(ZoneInfo(zone)):%a %d %b %H:%M} {zone}".strip())
        self.lead, self.at, self.zone = lead, moment, zone
        return self

    def __reduce__(self) -> tuple[type[When], tuple[str, datetime, str]]:
        return When, (self.lead, self.at, self.zone)

    @property
    def iso(self) -> str:
        """RFC 3339 in UTC, `2026-12-07T10:00:00Z`: the strict form Teams' DATE() and TIME() need."""
        return f"{self.at:%Y-%m-%dT%H:%M:%S}Z"

    def to_json(self) -> dict[str, str]:
        return {"when": self.iso, "lead": self.lead, "zone": self.zone, "text": str(self)}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> When:
        return cls(data["lead"], datetime.fromisoformat(data["when"]), data["zone"])


@dataclass(frozen=True)
class Context:
    """Small print, item by item; an item may be a moment (When), which readers see in their own zone."""

    items: tuple[str, ...]
    type: ClassVar[str] = "context"


@dataclass(frozen=True)
class Button:
    action_id: str
    label: str
    value: str = ""
    style: ButtonStyle = None
    url: str | None = None


@dataclass(frozen=True)
class Buttons:
    buttons: tuple[Button, ...]
    type: ClassVar[str] = "buttons"


@dataclass(frozen=True)
class Option:
    label: str
    value: str


@dataclass(frozen=True)
class Choices:
    action_id: str
    options: tuple[Option, ...]
    multi: bool = False
    placeholder: str | None = None
    type: ClassVar[str] = "choices"


@dataclass(frozen=True)
class Image:
    url: str
    alt: str
    type: ClassVar[str] = "image"


@dataclass(frozen=True)
class File:
    """A file for the reader (bot.files: `url` is `file:<id>`). `elsewhere` says how to get it where a platform
    can't take files from the bot."""

    url: str
    name: str
    elsewhere: str = ""
    type: ClassVar[str] = "file"


@dataclass(frozen=True)
class Divider:
    type: ClassVar[str] = "divider"


Block = Heading | Text | Quote | Fields | Context | Buttons | Choices | Image | File | Divider
_BLOCK_TYPES: dict[str, type] = {
    cls.type: cls for cls in (Heading, Text, Quote, Fields, Context, Buttons, Choices, Image, File, Divider)
}


@dataclass(frozen=True)
class Card:
    """A message: `fallback` is the plain-text notification and what a platform shows when it can't render."""

    fallback: str
    blocks: tuple[Block, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"fallback": self.fallback, "blocks": [_block_json(b) for b in self.blocks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Card:
        return cls(fallback=data["fallback"], blocks=tuple(_block_from_json(b) for b in data.get("blocks", ())))


_PARTS: dict[type, tuple[str, ...]] = {cls: tuple(cls.__dataclass_fields__) for cls in (Field, Button, Option)}


def _plain(value: Any) -> Any:
    """A block field as JSON: tuples of small dataclasses become lists of dicts (faster than asdict, and no
    attribute probing of every string, which costs an exception each)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is tuple:
        return [_plain(v) for v in value]
    if kind is When:
        return value.to_json()
    names = _PARTS.get(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    return value


def _block_json(block: Block) -> dict[str, Any]:
    return {"type": block.type, **{name: _plain(getattr(block, name)) for name in block.__dataclass_fields__}}


def _block_from_json(data: dict[str, Any]) -> Block:
    kind = _BLOCK_TYPES[data["type"]]
    values = {k: v for k, v in data.items() if k != "type"}
    if kind is Fields:
        values["fields"] = tuple(Field(**f) for f in values["fields"])
    elif kind is Context:
        values["items"] = tuple(When.from_json(i) if isinstance(i, dict) else i for i in values["items"])
    elif kind is Buttons:
        values["buttons"] = tuple(Button(**b) for b in values["buttons"])
    elif kind is Choices:
        values["options"] = tuple(Option(**o) for o in values["options"])
    return kind(**values)  # type: ignore[no-any-return]


def text_card(text: str, heading: str | None = None) -> Card:
    """The simplest card: optional heading and one paragraph."""
    blocks: tuple[Block, ...] = (Text(text),) if heading is None else (Heading(heading), Text(text))
    return Card(fallback=text if heading is None else f"{heading}\n{text}", blocks=blocks)


InputKind = Literal["text", "textarea", "select", "multiselect", "number", "people"]
"""`people`: pick people of the workspace (Slack's user picker, the sandbox's list); where a platform has no
picker it is a text box taking mentions or user ids."""


@dataclass(frozen=True)
class Input:
    name: str
    label: str
    kind: InputKind = "text"
    options: tuple[Option, ...] = ()
    required: bool = True
    placeholder: str | None = None
    initial: str | tuple[str, ...] | None = None
    hint: str | None = None


@dataclass(frozen=True)
class Form:
    """A modal form (Slack view, Teams card, sandbox dialog). `metadata` comes back with the submission."""

    form_id: str
    title: str
    inputs: tuple[Input, ...]
    submit_label: str = "Submit"
    metadata: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"] = [
            {**asdict(i), "initial": list(i.initial) if isinstance(i.initial, tuple) else i.initial}
            for i in self.inputs
        ]
        return data


FormErrors = dict[str, str]
"""Field name → message, shown beside the field while the form stays open."""

__all__ = [
    "Block", "Button", "Buttons", "Card", "Choices", "Context", "Divider", "Field", "Fields", "File",
    "Form", "FormErrors", "Heading", "Image", "Input", "Option", "Quote", "Text", "When", "text_card",
]
