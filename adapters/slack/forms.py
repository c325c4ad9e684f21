"""Neutral forms → Slack modal views, and form errors → the `response_action: errors` answer (or, once the
modal has closed, a private card). Pure."""

from __future__ import annotations

from typing import Any

from adapters.slack.blocks import PLACEHOLDER_LIMIT, option, options, plain
from bot.cards import Card, Form, FormErrors, Input
from bot.commands import error_card

TITLE_LIMIT = 24
INPUT_LABEL_LIMIT = 2_000
HINT_LIMIT = 2_000
TEXT_MAX_LENGTH = 3_000
METADATA_LIMIT = 3_000
CALLBACK_ID_LIMIT = 255

Json = dict[str, Any]


def render_modal(form: Form) -> Json:
    """A modal whose `callback_id` is the form id and whose `private_metadata` carries the form's metadata."""
    if len(form.metadata) > METADATA_LIMIT:
        raise ValueError(f"form metadata longer than Slack's {METADATA_LIMIT} characters: {form.form_id}")
    if len(form.form_id) > CALLBACK_ID_LIMIT:
        raise ValueError(f"form id longer than {CALLBACK_ID_LIMIT} characters")
    return {
        "type": "modal",
        "callback_id": form.form_id,
        "title": plain(form.title, TITLE_LIMIT),
        "submit": plain(form.submit_label, TITLE_LIMIT),
        "close": plain("Cancel", TITLE_LIMIT),
        "private_metadata": form.metadata,
        "blocks": [_input_block(i) for i in form.inputs],
    }


def _input_block(item: Input) -> Json:
    block: Json = {"type": "input", "block_id": item.name, "optional": not item.required,
                   "label": plain(item.label, INPUT_LABEL_LIMIT), "element": _element(item)}
    if item.hint:
        block["hint"] = plain(item.hint, HINT_LIMIT)
    return block


def _element(item: Input) -> Json:
    element: Json = {"action_id": item.name}
    if item.placeholder:
        element["placeholder"] = plain(item.placeholder, PLACEHOLDER_LIMIT)
    initial = item.initial
    match item.kind:
        case "text" | "textarea":
            element.update(type="plain_text_input", multiline=item.kind == "textarea", max_length=TEXT_MAX_LENGTH)
            if isinstance(initial, str) and initial:
                element["initial_value"] = initial
        case "number":
            element.update(type="number_input", is_decimal_allowed=False)
            if isinstance(initial, str) and initial:
                element["initial_value"] = initial
        case "select":
            element.update(type="static_select", options=options(item.options))
            chosen = [option(o) for o in item.options if o.value == initial]
            if chosen:
                element["initial_option"] = chosen[0]
        case "people":  # answers with user ids, never the names people type
            element.update(type="multi_users_select")
            if isinstance(initial, tuple) and initial:
                element["initial_users"] = list(initial)
        case "multiselect":
            element.update(type="multi_static_select", options=options(item.options))
            wanted = set(initial) if isinstance(initial, tuple) else {initial}
            chosen = [option(o) for o in item.options if o.value in wanted]
            if chosen:
                element["initial_options"] = chosen
    return element


def error_answer(errors: FormErrors, view_blocks: list[Json]) -> Json | None:
    """The ack body that keeps the modal open with each message under its field. Messages for a field the
    view does not have (the core's "_" for the whole form) go under the first input. None if the view has
    no input to show them under."""
    inputs = [b["block_id"] for b in view_blocks if b.get("type") == "input" and b.get("block_id")]
    if not inputs:
        return None
    shown: dict[str, str] = {}
    for name, message in errors.items():
        block_id = name if name in inputs else inputs[0]
        shown[block_id] = f"{shown[block_id]} {message}" if block_id in shown else message
    return {"response_action": "errors", "errors": shown}


def late_errors_card(errors: FormErrors, view: Json) -> Card:
    """The errors of a form whose modal Slack had already closed: it was not saved, and why, by field label."""
    labels = {b["block_id"]: (b.get("label") or {}).get("text") or b["block_id"] for b in view.get("blocks") or ()
              if b.get("type") == "input" and b.get("block_id")}
    title = (view.get("title") or {}).get("text") or "The form"
    lines = [f"• {labels[name]}: {message}" if name in labels else f"• {message}" for name, message in errors.items()]
    return error_card(f"“{title}” was not saved:\n" + "\n".join(lines), "Please open it again and try once more.")
