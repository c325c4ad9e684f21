"""Neutral cards and forms rendered as Adaptive Cards 1.5 (pure: no I/O).

Buttons are `Action.Execute` (Universal Actions: an `adaptiveCard/action` invoke the bot answers) with an
`Action.Submit` fallback for hosts older than 1.4. A card that would pass Teams' message size limit (about
28 KB) is cut: its longest texts are shortened at a grapheme boundary and the rest comes back as
continuation cards, posted right after it, so nothing becomes unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from adapters.teams.escape import ELLIPSIS, cut, escape_markdown, inert
from adapters.teams.images import fit_png
from bot.cards import (
    Button,
    Buttons,
    Card,
    Choices,
    Context,
    Divider,
    Fields,
    File,
    Form,
    FormErrors,
    Heading,
    Image,
    Input,
    Quote,
    Text,
    When,
)
from bot.charts import chart_id
from bot.events import Person
from bot.text import casefold

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
MESSAGE_BUDGET = 27_000
"""Bytes of card JSON, measured with non-ASCII escaped (the worst case on the wire). Teams refuses about 28 KB
per message including the activity around the card."""
INPUT_PREFIX = "input:"
# Teams shows at most 6 actions in a set (its host config's maxActions) and hides the rest; the quote card has 7.
ACTIONS_PER_SET = 5
MULTI_KEY = "multi_inputs"  # which inputs are multi-selects: only their "a,b" answers are lists; text keeps commas
CHOICE_PREFIX = "choice:"
CONTINUED = "The rest follows in the next message."
PEOPLE_DATASET = "earshot.people"
"""The dataset a people input's typeahead asks the bot about (adapters.teams.people)."""
PEOPLE_CHOICES = 100
"""Members listed in a people input before typing (about 150 bytes each of the card's 28 KB)."""
PEOPLE_TEXT_PLACEHOLDER = "29:… user ids, separated by commas"
_STYLES = {"primary": "positive", "danger": "destructive"}


def json_size(data: object) -> int:
    return len(json.dumps(data))


def adaptive_card(body: list[dict[str, Any]], fallback: str) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body,
            "fallbackText": inert(cut(fallback, 1_000)[0]), "msteams": {"width": "Full"}}


def text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": escape_markdown(text), "wrap": True, **style}


@dataclass
class _Slot:
    """A TextBlock holding neutral text: what can be shortened when the card is too large."""

    element: dict[str, Any]
    text: str
    rest: str = ""

    def shorten(self, chars: int) -> bool:
        head, rest = cut(self.text, max(1, chars))
        if not rest:
            return False
        self.text, self.rest = head, rest + self.rest
        self.element["text"] = escape_markdown(head.rstrip()) + " " + ELLIPSIS
        return True


class _CardBuilder:
    def __init__(self, offered: Collection[str]) -> None:
        self.offered = offered
        """URLs of the files that follow as file-consent cards."""
        self.body: list[dict[str, Any]] = []
        self.slots: list[_Slot] = []
        self.images: list[tuple[dict[str, Any], Image]] = []
        self._separator = False

    def add(self, element: dict[str, Any]) -> dict[str, Any]:
        if self._separator:
            element["separator"] = True
            element["spacing"] = "Medium"
            self._separator = False
        self.body.append(element)
        return element

    def text(self, text: str, container: list[dict[str, Any]] | None = None, **style: Any) -> dict[str, Any]:
        element = text_block(text, **style)
        self.slots.append(_Slot(element, text))
        if container is None:
            return self.add(element)
        container.append(element)
        return element

    def block(self, block: object, index: int) -> None:
        match block:
            case Heading(text=text):
                self.text(text, size="Medium", weight="Bolder")
            case Text(text=text):
                self.text(text)
            case Quote():
                self.quote(block, index)
            case Fields(fields=fields):
                self.add({"type": "FactSet", "facts": [
                    {"title": escape_markdown(f.label), "value": escape_markdown(f.value)} for f in fields]})
            case Context(items=items):
                element = self.text(" · ".join(items), size="Small", isSubtle=True)
                if any(isinstance(item, When) for item in items):
                    element["text"] = " · ".join(_localised(item) for item in items)
            case Buttons(buttons=buttons):
                actions = [button_action(b) for b in buttons]
                for start in range(0, len(actions), ACTIONS_PER_SET):
                    self.add({"type": "ActionSet", "actions": actions[start:start + ACTIONS_PER_SET]})
            case Choices():
                self.choices(block)
            case Image():
                placeholder = self.text(f"📊 {block.alt}", isSubtle=True)
                self.slots.pop()  # the alt text is replaced by the image, never cut
                self.images.append((placeholder, block))
            case File(url=url, name=name, elsewhere=elsewhere):
                # Teams takes a bot's file only through a file-consent card in a 1:1 chat (adapters.teams.files).
                if url in self.offered:
                    self.text(f"📎 {name}: choose Allow on the file card below and it goes to your OneDrive "
                              "and into this chat.")
                else:
                    self.text(f"📎 {name} can't be sent here (Teams takes a bot's files only in a 1:1 chat, while "
                              f"they are kept). {elsewhere}".strip())
            case Divider():
                self._separator = True

    def quote(self, quote: Quote, index: int) -> None:
        items: list[dict[str, Any]] = []
        self.text(quote.text, items)
        if quote.more:
            more_id = f"more-{index}"
            self.text(quote.more, items, id=more_id, isVisible=False)
            items.append({"type": "ActionSet", "actions": [
                {"type": "Action.ToggleVisibility", "title": "Show more", "targetElements": [more_id]}]})
        self.add({"type": "Container", "style": "emphasis", "items": items})

    def choices(self, choices: Choices) -> None:
        self.add({"type": "Input.ChoiceSet", "id": CHOICE_PREFIX + choices.action_id, "style": "compact",
                  "isMultiSelect": choices.multi, "placeholder": inert(choices.placeholder or "Choose…"),
                  "choices": [{"title": inert(o.label), "value": o.value} for o in choices.options]})
        data = {"action_id": choices.action_id, "multi": choices.multi}
        self.add({"type": "ActionSet", "actions": [_execute("Send", choices.action_id, data)]})


def _localised(item: str) -> str:
    """A context item as TextBlock markdown; a moment in the reader's own zone through Adaptive Cards' DATE() and
    TIME() functions (which want strict RFC 3339, no spaces, capitals)."""
    if not isinstance(item, When):
        return escape_markdown(item)
    lead = f"{escape_markdown(item.lead)} " if item.lead else ""
    return f"{lead}{{{{DATE({item.iso}, SHORT)}}}} {{{{TIME({item.iso})}}}}"


def button_action(button: Button) -> dict[str, Any]:
    if button.url:
        return {"type": "Action.OpenUrl", "title": inert(button.label), "url": button.url}
    action = _execute(button.label, button.action_id, {"action_id": button.action_id, "value": button.value})
    if button.style in _STYLES:
        action["style"] = _STYLES[button.style]
    return action


def _execute(title: str, verb: str, data: dict[str, Any]) -> dict[str, Any]:
    """Action.Execute, falling back to Action.Submit with the same data where 1.4 is not understood."""
    return {"type": "Action.Execute", "title": inert(title), "verb": verb, "data": data,
            "fallback": {"type": "Action.Submit", "title": inert(title), "data": data}}


def render_card(card: Card, charts: Mapping[str, bytes] | None = None, budget: int = MESSAGE_BUDGET,
                offered: Collection[str] = ()) -> list[dict[str, Any]]:
    """The card, plus continuation cards when its text had to be cut to fit. `charts` maps `chart:` URLs to
    PNG bytes, which are inlined as data URIs while room remains (text comes first); `offered` are the `file:`
    URLs whose file-consent cards follow."""
    builder = _CardBuilder(offered)
    for index, block in enumerate(card.blocks):
        builder.block(block, index)
    result = adaptive_card(builder.body, card.fallback)
    _fit_text(result, builder.slots, budget)
    rests = [slot.rest for slot in builder.slots if slot.rest]
    if rests:
        builder.body.append(text_block(CONTINUED, size="Small", isSubtle=True))
    for placeholder, image in builder.images:
        _place_image(result, placeholder, image, charts or {}, budget)
    return [result, *continuation_cards(rests, card.fallback, budget)]


def _fit_text(card: dict[str, Any], slots: list[_Slot], budget: int) -> None:
    room = budget - json_size(text_block(CONTINUED, size="Small", isSubtle=True)) - 16
    while (excess := json_size(card) - room) > 0:
        candidates = [s for s in slots if len(s.text) > 1]
        if not candidates:
            return  # nothing left to shorten; Teams will refuse it and the outbox will say so
        slot = max(candidates, key=lambda s: json_size(s.element["text"]))
        per_char = json_size(slot.element["text"]) / max(1, len(slot.element["text"]))
        keep = len(slot.text) - int(excess / per_char) - 8
        if not slot.shorten(keep):
            return


def _place_image(card: dict[str, Any], placeholder: dict[str, Any], image: Image, charts: Mapping[str, bytes],
                 budget: int) -> None:
    url: str | None = image.url if image.url.startswith("https://") else None
    if chart_id(image.url) is not None:
        png = charts.get(image.url)
        room = budget - json_size(card) - 200
        url = fit_png(png, room) if png is not None and room > 0 else None
    if url is None:
        return  # the alt text stays
    separator = {k: placeholder[k] for k in ("separator", "spacing") if k in placeholder}
    placeholder.clear()
    placeholder.update({"type": "Image", "url": url, "altText": inert(image.alt), "size": "Stretch", **separator})


def continuation_cards(rests: list[str], fallback: str, budget: int = MESSAGE_BUDGET) -> list[dict[str, Any]]:
    """The cut-off text, in as many cards as it takes."""
    cards: list[dict[str, Any]] = []
    pending = [rest.lstrip() for rest in rests]
    while pending:
        body: list[dict[str, Any]] = []
        card = adaptive_card(body, f"{fallback} (continued)")
        while pending:
            element = text_block(pending[0])
            if json_size(card) + json_size(element) + 2 <= budget:
                body.append(element)
                pending.pop(0)
                continue
            per_char = json_size(element["text"]) / max(1, len(element["text"]))
            chars = int((budget - json_size(card) - 64) / per_char)
            while True:  # the average cost per character is an estimate: shrink until it truly fits
                head, rest = cut(pending[0], max(1, chars))
                element = text_block(head)
                if json_size(card) + json_size(element) + 2 <= budget or chars <= 1:
                    break
                chars = chars * 9 // 10
            body.append(element)
            pending[0] = rest
            break
        cards.append(card)
    return cards


def render_form(form: Form, errors: FormErrors | None = None, people: Sequence[Person] = ()) -> dict[str, Any]:
    """A form as a card: inputs with labels, a submit button carrying the form id and metadata back. `people`
    (the conversation's members) are the first choices of a people input; typing finds others the bot knows."""
    errors = errors or {}
    body: list[dict[str, Any]] = [text_block(form.title, size="Medium", weight="Bolder")]
    if errors:
        body.append(text_block("Please check: " + "; ".join(errors.values()), color="Attention"))
    for field in form.inputs:
        body.append(_people_input(field, people) if field.kind == "people" else _input(field))
        if field.hint:
            body.append(text_block(field.hint, size="Small", isSubtle=True, spacing="None"))
        if field.name in errors:
            body.append(text_block(errors[field.name], size="Small", color="Attention", spacing="None"))
    data = {"form_id": form.form_id, "metadata": form.metadata, "form_title": form.title,
            MULTI_KEY: [field.name for field in form.inputs if field.kind in ("multiselect", "people")]}
    body.append({"type": "ActionSet", "actions": [_execute(form.submit_label, form.form_id, data)]})
    return adaptive_card(body, form.title)


def _input(field: Input) -> dict[str, Any]:
    common: dict[str, Any] = {"id": INPUT_PREFIX + field.name, "label": inert(field.label),
                              "isRequired": field.required}
    if field.required:
        common["errorMessage"] = f"{inert(field.label)} is required"
    if field.placeholder:
        common["placeholder"] = inert(field.placeholder)
    initial = ",".join(field.initial) if isinstance(field.initial, tuple) else field.initial
    if initial is not None:
        common["value"] = initial
    if field.kind in ("select", "multiselect"):
        return {"type": "Input.ChoiceSet", **common, "style": "compact", "isMultiSelect": field.kind == "multiselect",
                "choices": [{"title": inert(o.label), "value": o.value} for o in field.options]}
    if field.kind == "number":
        return {"type": "Input.Number", **common}
    return {"type": "Input.Text", **common, "isMultiline": field.kind == "textarea"}


def _people_input(field: Input, people: Sequence[Person]) -> dict[str, Any]:
    """A filtered multi-select of people by their bot ids (`29:…`). Teams' own people picker (the Graph users
    dataset) answers with Azure AD object ids, which a bot can't message; this one offers the conversation's
    members and, as the person types, whoever Earshot has seen (an `application/search` invoke). A ChoiceSet
    needs at least one choice (Microsoft's renderer refuses the card otherwise), so with no one to offer the
    field takes user ids as text."""
    named = sorted(((p.name or p.user_id, p.user_id) for p in people if p.user_id), key=lambda pair: casefold(pair[0]))
    if not named:
        return _input(replace(field, kind="text", placeholder=PEOPLE_TEXT_PLACEHOLDER))
    element = _input(replace(field, kind="multiselect"))
    element.update({"style": "filtered", "choices": [{"title": inert(name), "value": user_id}
                                                      for name, user_id in named[:PEOPLE_CHOICES]],
                    "choices.data": {"type": "Data.Query", "dataset": PEOPLE_DATASET}})
    return element


def submitted_card(title: str) -> dict[str, Any]:
    """What replaces a form card once it was accepted, so it cannot be sent twice."""
    return adaptive_card([text_block(f"✓ {title}", weight="Bolder"),
                          text_block("Sent. Thank you!", size="Small", isSubtle=True)], f"{title}: sent")


def errors_text(errors: FormErrors) -> str:
    return "Please fix the form: " + "; ".join(errors.values())
