"""Recorded Teams activities from tests/fixtures/teams, as botbuilder hands them to the bot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botbuilder.schema import Activity

FIXTURES = Path(__file__).parents[1] / "fixtures" / "teams"


def recorded(name: str, **changes: Any) -> dict[str, Any]:
    """The raw JSON Teams posts, with top-level fields replaced (serviceUrl for a fake connector, ids…)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def as_received(data: dict[str, Any]) -> dict[str, Any]:
    """What the bot sees: botbuilder's Activity model drops fields it doesn't know (conversation.tenantId…);
    the turn handler puts an entity's back (a mention's id)."""
    from adapters.teams.turn import activity_json

    return activity_json(Activity().deserialize(data))


def all_names() -> list[str]:
    return sorted(path.stem for path in FIXTURES.glob("*.json"))
