"""Neutral cards → Block Kit, within Slack's limits. Pure: no I/O.

Limits (Slack's Block Kit reference): 50 blocks a message (100 in a Home tab), 3,000 characters a section text,
2,000 a field, 10 fields a section, 10 context elements, 25 elements an actions block, 150 characters a header,
75 a button or option label, 100 options a menu. Slack answers `msg_blocks_too_long` somewhere near 13,000
characters of blocks in total, so the whole payload (buttons and images included) is kept under
`PAYLOAD_BUDGET`. Headers, buttons and menus are kept whole; the rest gives way: text is cut at a grapheme (with
an ellipsis), adjacent text sections are merged when there are too many blocks, and dividers, images, context
and text are dropped last-first. A card whose headers and buttons alone break a limit is refused (ValueError).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from adapters.slack.text import ELLIPSIS, cut_plain, escape_units, mrkdwn, split_units
from bot.cards import (
    Block,
    Button,
    Buttons,
    Card,
    Choices,
    Context,
    Divider,
    Fields,
    File,
    Heading,
    Image,
    Option,
    Quote,
    Text,
    When,
)
from bot.charts import chart_id

MAX_BLOCKS = 50
HOME_MAX_BLOCKS = 100
SECTION_LIMIT = 3_000
FIELD_LIMIT = 2_000
FIELDS_PER_SECTION = 10
CONTEXT_ELEMENTS = 10
ACTIONS_PER_BLOCK = 25
HEADER_LIMIT = 150
LABEL_LIMIT = 75
PLACEHOLDER_LIMIT = 150
OPTION_VALUE_LIMIT = 150
OPTIONS_LIMIT = 100
BUTTON_VALUE_LIMIT = 2_000
ALT_LIMIT = 2_000
FALLBACK_LIMIT = 3_000
PAYLOAD_BUDGET = 11_000
MIN_CUT = 200
"""A text section that would keep fewer characters than this is dropped rather than cut."""
ESSENTIAL = frozenset({"header", "actions"})
"""Blocks kept whole whatever the limits: a card without its buttons cannot be answered."""
LOSSY_DROPS = (frozenset({"image", "context"}), frozenset({"section"}))
"""What gives way, in this order, when a card has more blocks than Slack takes even with its text merged."""

Json = dict[str, Any]
_ACTION_SUFFIX = re.compile(r"#(\d+)(u?)$")


def encode_action_id(action_id: str, index: int, *, link: bool = False) -> str:
    """Slack rejects a message whose elements share an action_id; the core's ids repeat (one per vote button),
    so each element carries its position. Link buttons are marked: their clicks only need an ack."""
    return f"{action_id}#{index}{'u' if link else ''}"


def decode_action_id(encoded: str) -> tuple[str, bool]:
    """The core's action_id and whether the element was a link button."""
    match = _ACTION_SUFFIX.search(encoded)
    if match is None:
        return encoded, False
    return encoded[: match.start()], bool(match.group(2))


def plain(text: str, limit: int) -> Json:
    return {"type": "plain_text", "text": cut_plain(text, limit), "emoji": True}


def mrkdwn_text(text: str) -> Json:
    """Already escaped mrkdwn; `verbatim` stops Slack from linking URLs, channel names and bare @mentions."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


_TOKEN_MARKS = str.maketrans({"^": "\u02c6", "|": "\u2223", "{": "{\u200b"})
"""What would end a date token's format early (`^`, `|`) or be read as a date field (`{time}`) inside it."""


def date_token(when: When) -> str:
    """Slack writes the moment in each reader's own zone; clients that can't draw it show the fallback, which
    replaces the whole token: so the lead goes inside the token's format, never before it."""
    lead = f"{mrkdwn(when.lead).translate(_TOKEN_MARKS)} " if when.lead else ""
    return f"<!date^{int(when.at.timestamp())}^{lead}{{date_short_pretty}} at {{time}}|{mrkdwn(str(when))}>"


MORE = {"type": "context", "elements": [mrkdwn_text("… more in Earshot")]}
"""The last block of a card that lost blocks to the count limit."""


@dataclass(frozen=True)
class Rendered:
    text: str
    """The notification and fallback text (escaped mrkdwn)."""
    blocks: list[Json]
    charts: tuple[Image, ...] = ()
    """`chart:` images: not blocks; the adapter uploads them to the conversation after the message."""
    files: tuple[File, ...] = ()
    """Files (a CSV export): uploaded after the message too."""


@dataclass
class _Piece:
    block: Json
    units: list[str] | None = None
    """For a text section: its escaped units, so it can be cut to fit what is left of the budget."""


@dataclass
class _Renderer:
    pieces: list[_Piece] = field(default_factory=list)
    charts: list[Image] = field(default_factory=list)
    files: list[File] = field(default_factory=list)
    actions: int = 0

    def add(self, block: Block) -> None:
        match block:
            case Heading(text=text) if text.strip():
                self.pieces.append(_Piece({"type": "header", "text": plain(text, HEADER_LIMIT)}))
            case Text(text=text) if text.strip():
                self._sections(escape_units(text))
            case Quote() if block.full.strip():  # Slack folds long sections behind its own "See more"
                self._sections(_quoted(escape_units(block.full)), prefix="> ")
            case Fields(fields=fields):
                cells = [_field(f.label, f.value) for f in fields]
                for start in range(0, len(cells), FIELDS_PER_SECTION):
                    self.pieces.append(_Piece({"type": "section", "fields": cells[start:start + FIELDS_PER_SECTION]}))
            case Context(items=items):
                elements = [mrkdwn_text(date_token(item) if isinstance(item, When) else mrkdwn(item, SECTION_LIMIT))
                            for item in items if item.strip()]
                if elements:
                    self.pieces.append(_Piece({"type": "context", "elements": elements[:CONTEXT_ELEMENTS]}))
            case Buttons(buttons=buttons):
                elements = [self._button(b) for b in buttons]
                for start in range(0, len(elements), ACTIONS_PER_BLOCK):
                    self.pieces.append(_Piece({"type": "actions",
                                               "elements": elements[start:start + ACTIONS_PER_BLOCK]}))
            case Choices():
                self.pieces.append(_Piece({"type": "actions", "elements": [self._menu(block)]}))
            case Image(url=url, alt=alt):
                if chart_id(url) is not None:
                    self.charts.append(block)
                else:
                    self.pieces.append(_Piece({"type": "image", "image_url": url,
                                               "alt_text": cut_plain(alt.strip() or "image", ALT_LIMIT)}))
            case File():
                self.files.append(block)
            case Divider():
                self.pieces.append(_Piece({"type": "divider"}))

    def _sections(self, units: list[str], prefix: str = "") -> None:
        for chunk in split_units(units, SECTION_LIMIT - len(prefix)):
            lead = [prefix] if prefix and chunk[0] != prefix else []
            self.pieces.append(_text_piece([*lead, *chunk]))

    def _next_action_id(self, action_id: str, *, link: bool = False) -> str:
        encoded = encode_action_id(action_id, self.actions, link=link)
        self.actions += 1
        return encoded

    def _button(self, button: Button) -> Json:
        if len(button.value) > BUTTON_VALUE_LIMIT:
            raise ValueError(f"button value longer than {BUTTON_VALUE_LIMIT} characters: {button.action_id}")
        element: Json = {"type": "button", "text": plain(button.label, LABEL_LIMIT),
                         "action_id": self._next_action_id(button.action_id, link=button.url is not None)}
        if button.value:
            element["value"] = button.value
        if button.url:
            element["url"] = button.url
        if button.style:
            element["style"] = button.style
        return element

    def _menu(self, choices: Choices) -> Json:
        return {
            "type": "multi_static_select" if choices.multi else "static_select",
            "action_id": self._next_action_id(choices.action_id),
            "placeholder": plain(choices.placeholder or "Choose…", PLACEHOLDER_LIMIT),
            "options": options(choices.options),
        }


def options(items: tuple[Option, ...]) -> list[Json]:
    if not 0 < len(items) <= OPTIONS_LIMIT:
        raise ValueError(f"a Slack menu holds 1 to {OPTIONS_LIMIT} options, not {len(items)}")
    return [option(o) for o in items]


def option(item: Option) -> Json:
    if len(item.value) > OPTION_VALUE_LIMIT:
        raise ValueError(f"option value longer than {OPTION_VALUE_LIMIT} characters: {item.value[:40]}…")
    return {"text": plain(item.label, LABEL_LIMIT), "value": item.value}


def _section(text: str) -> Json:
    return {"type": "section", "text": mrkdwn_text(text)}


def _quoted(units: list[str]) -> list[str]:
    """Every line of a quote starts with Slack's quote mark (a unit of its own, so chunks can start with it)."""
    out = ["> "]
    for unit in units:
        out.append(unit)
        if unit.endswith("\n"):
            out.append("> ")
    return out


def _field(label: str, value: str) -> Json:
    head = mrkdwn(label, 200)
    return mrkdwn_text(f"*{head}*\n{mrkdwn(value, FIELD_LIMIT - len(head) - 3)}")


def _size(node: Any) -> int:
    """Characters `node` adds to the JSON list of blocks (with the ", " that separates it)."""
    return len(json.dumps(node, ensure_ascii=False)) + 2


def _cut(units: list[str], room: int) -> list[str]:
    """The leading units whose JSON-escaped length fits in `room`, plus an ellipsis."""
    kept: list[str] = []
    used = len(ELLIPSIS)
    for unit in units:
        used += _size(unit) - 4
        if used > room:
            break
        kept.append(unit)
    while kept and kept[-1].isspace():
        kept.pop()
    return [*kept, ELLIPSIS]


def _text_piece(units: list[str]) -> _Piece:
    return _Piece(_section("".join(units)), units)


def _essential(piece: _Piece) -> bool:
    return piece.block["type"] in ESSENTIAL


def _within_budget(pieces: list[_Piece], budget: int) -> list[_Piece]:
    """Headers and buttons whole; then the other non-text blocks in order while they fit; then text, in order,
    cutting the one that overflows and dropping the text after it."""
    room = budget - sum(_size(p.block) for p in pieces if _essential(p))
    if room < 0:
        raise ValueError(f"headers and buttons alone are over Slack's message size ({PAYLOAD_BUDGET} characters)")
    kept: set[int] = set()
    for index, piece in enumerate(pieces):
        if piece.units is None and not _essential(piece) and _size(piece.block) <= room:
            kept.add(index)
            room -= _size(piece.block)
    out: list[_Piece] = []
    cut = False
    for index, piece in enumerate(pieces):
        if piece.units is None:
            if index in kept or _essential(piece):
                out.append(piece)
        elif not cut and _size(piece.block) <= room:
            out.append(piece)
            room -= _size(piece.block)
        elif not cut:
            cut = True
            left = room - _size(_section(""))
            if left >= MIN_CUT:
                out.append(_text_piece(_cut(piece.units, left)))
    return out


def _merged(pieces: list[_Piece]) -> list[_Piece]:
    """Adjacent text sections joined into as few sections as fit Slack's section limit (one block each)."""
    out: list[_Piece] = []
    for piece in pieces:
        last = out[-1] if out else None
        if piece.units is not None and last is not None and last.units is not None:
            units = [*last.units, "\n", *piece.units]
            if len("".join(units)) <= SECTION_LIMIT:
                out[-1] = _text_piece(units)
                continue
        out.append(piece)
    return out


def _dropped(pieces: list[_Piece], kinds: frozenset[str], excess: int) -> list[_Piece]:
    """Without the last `excess` blocks of these kinds (or all of them, if there are fewer)."""
    dropped: set[int] = set()
    for index in reversed(range(len(pieces))):
        if len(dropped) < excess and pieces[index].block["type"] in kinds:
            dropped.add(index)
    return [p for i, p in enumerate(pieces) if i not in dropped]


def _within_count(pieces: list[_Piece], limit: int) -> list[_Piece]:
    """At most `limit` blocks: adjacent text merged, then without dividers (they carry nothing); if that is not
    enough, images and context, then text, dropped from the end, and a note that there is more."""
    pieces = _merged(pieces)
    if len(pieces) > limit:
        pieces = _merged([p for p in pieces if p.block["type"] != "divider"])
    if len(pieces) <= limit:
        return pieces
    if sum(_essential(p) for p in pieces) >= limit:
        raise ValueError(f"more than {limit - 1} headers and button rows")
    for kinds in LOSSY_DROPS:
        pieces = _dropped(pieces, kinds, len(pieces) - (limit - 1))
    return [*pieces, _Piece(MORE)]


def _fit(pieces: list[_Piece], max_blocks: int) -> list[Json]:
    """Slack's limits with headers and buttons kept whole: the size budget first (with room for the "more"
    note), then the block count."""
    fitted = _within_budget(pieces, PAYLOAD_BUDGET - _size(MORE))
    if len(fitted) > max_blocks:
        fitted = _within_count(fitted, max_blocks)
    return [p.block for p in fitted]


def render_card(card: Card, *, max_blocks: int = MAX_BLOCKS) -> Rendered:
    """A card as Block Kit plus its fallback text. Raises ValueError for what Slack cannot show at all (an
    over-long button value or menu option, more buttons than a message holds), which is a bug in the card, not a
    reason to retry."""
    renderer = _Renderer()
    for block in card.blocks:
        renderer.add(block)
    text = mrkdwn(card.fallback.strip() or "Earshot", FALLBACK_LIMIT)
    return Rendered(text=text, blocks=_fit(renderer.pieces, max_blocks), charts=tuple(renderer.charts),
                    files=tuple(renderer.files))
