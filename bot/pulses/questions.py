"""Question kinds and their answer options."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("single", "multi", "scale", "enps", "yesno", "text")
KIND_WORDS = {  # what people type → kind
    "single": "single", "choice": "single", "choices": "single", "multi": "multi", "multiple": "multi",
    "scale": "scale", "rating": "scale", "enps": "enps", "nps": "enps", "yesno": "yesno", "yn": "yesno",
    "text": "text", "open": "text", "free": "text",
}
SCALE_LABELS = {"1": "1 😞", "2": "2 🙁", "3": "3 😐", "4": "4 🙂", "5": "5 😀"}
MAX_QUESTIONS = 10
MAX_OPTIONS = 10
COMMENT_LIMIT = 1_000  # characters of a comment or a free-text answer


@dataclass(frozen=True)
class QuestionSpec:
    kind: str
    prompt: str
    options: tuple[str, ...] = field(default=())
    allow_comment: bool = False


def answer_options(kind: str, options: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """(label, value) pairs a person can pick; empty for free text."""
    match kind:
        case "scale":
            return [(label, value) for value, label in SCALE_LABELS.items()]
        case "enps":
            return [(str(n), str(n)) for n in range(11)]
        case "yesno":
            return [("👍 Yes", "yes"), ("👎 No", "no")]
        case "single" | "multi":
            return [(option, str(index)) for index, option in enumerate(options)]
        case _:
            return []


TEXT_VALUE = "text"
"""The value of every free-text answer: its words travel as the comment."""


def valid_answer(kind: str, options: list[str] | tuple[str, ...], value: str) -> bool:
    if kind == "text":
        return value == TEXT_VALUE
    allowed = {v for _, v in answer_options(kind, options)}
    if kind != "multi":
        return value in allowed
    parts = value.split(",")
    return len(set(parts)) == len(parts) and all(part in allowed for part in parts)  # each option once


def label_of(kind: str, options: list[str] | tuple[str, ...], value: str) -> str:
    """An answer as people read it: the option's label (each one's, for a multiple choice)."""
    labels = dict((v, label) for label, v in answer_options(kind, options))
    if kind == "multi":
        return ", ".join(labels.get(part, part) for part in value.split(","))
    return labels.get(value, value)


def score_of(kind: str, value: str) -> int | None:
    """An answer as a number, for a spreadsheet to average: a scale's 1–5, an eNPS 0–10, yes 1 and no 0; None for
    choices and text."""
    if kind in ("scale", "enps") and value.isdigit():
        return int(value)
    return {"yes": 1, "no": 0}.get(value) if kind == "yesno" else None
