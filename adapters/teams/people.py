"""Typeahead for people inputs. As someone types in a form's people field, Teams asks the bot with an
`application/search` invoke; the answer is people Earshot has seen on Teams (names come with every turn and
every member list it reads) whose name holds what was typed, by their bot ids (`29:…`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.teams.render import PEOPLE_DATASET
from adapters.teams.translate import json_dict, json_str
from bot.events import Person

SEARCH = "application/search"
SEARCH_RESPONSE = "application/vnd.microsoft.search.searchResponse"
MOST = 15
"""Teams shows at most 15 choices in the dropdown."""


@dataclass(frozen=True)
class Search:
    """What was typed in a people field, and which page of matches Teams wants."""

    text: str
    skip: int
    top: int


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def search_of(activity: dict[str, Any]) -> Search | None:
    """The typed text of a people-input search, or None for any other activity (or another dataset)."""
    if activity.get("type") != "invoke" or activity.get("name") != SEARCH:
        return None
    value = json_dict(activity.get("value"))
    if value.get("dataset") != PEOPLE_DATASET:
        return None
    options = json_dict(value.get("queryOptions"))
    return Search(text=json_str(value.get("queryText")).strip()[:100],
                  skip=max(0, _int(options.get("skip"), 0)), top=min(MOST, max(1, _int(options.get("top"), MOST))))


def search_response(people: list[Person]) -> dict[str, Any]:
    """The invoke's answer: each person as a choice, by bot id."""
    return {"type": SEARCH_RESPONSE, "value": {"results": [
        {"value": person.user_id, "title": person.name or person.user_id} for person in people]}}
