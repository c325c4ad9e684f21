"""The pulse creation form as a Teams card, one round trip: `pulse` in the 1:1 chat → the form card → filled in and
sent back with Action.Execute → a pulse stored with every field."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

from bot.roles import grant
from storage.engine import Database
from storage.tables import Pulse, Question
from tests.support.core import make_harness
from tests.teams.activities import recorded
from tests.teams.test_turn import ANA, Turns


def inputs_of(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {element["id"]: element for element in card["body"] if str(element.get("id", "")).startswith("input:")}


async def test_the_creation_card_round_trip(db: Database) -> None:
    harness = make_harness(db)
    async with db.session() as session:
        await grant(session, "teams", ANA, "admin")  # a manager's form is checked against the chat's members,
        # which the TestAdapter can't list (tests/teams/test_trust.py covers a manager over HTTP)
        await session.commit()
    turns = Turns(harness)
    (reply,) = await turns.run(recorded("message_personal_command", id="1709549999001", text="pulse"))
    card = reply.attachments[0].content
    fields = inputs_of(card)
    assert list(fields) == [f"input:{name}" for name in ("title", "questions", "audience", "people", "anonymous",
                                                          "results", "share", "close", "remind", "every", "when",
                                                          "tz")]
    assert [c["value"] for c in fields["input:audience"]["choices"]] == ["channel", "dm", "people"]
    assert [c["value"] for c in fields["input:when"]["choices"]] == ["zone", "local"]
    (action,) = card["body"][-1]["actions"]
    filled = {"input:title": "Sprint check", "input:questions": "scale+comment: How was the sprint?\nyesno: Blocked?",
              "input:audience": "people", "input:people": "29:1a2b, 29:3c4d", "input:anonymous": "yes",
              "input:results": "close", "input:share": "yes", "input:close": "", "input:remind": "4h",
              "input:every": "fri@16:00", "input:when": "local", "input:tz": "Europe/Berlin"}
    invoke = recorded("invoke_form", id="f:round-trip")
    invoke["value"]["action"] = {"type": "Action.Execute", "verb": action["verb"], "data": {**action["data"], **filled}}
    (accepted,) = await turns.run(invoke)
    assert accepted.value.body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "✓ New pulse" in json.dumps(accepted.value.body["value"], ensure_ascii=False)
    async with db.session() as session:
        (pulse,) = list(await session.exec(select(Pulse)))
        questions = list(await session.exec(select(Question).order_by(Question.position)))  # type: ignore[arg-type]
    assert (pulse.platform, pulse.author_id, pulse.title) == ("teams", ANA, "Sprint check")
    assert pulse.audience == {"kind": "people", "users": ["29:1a2b", "29:3c4d"], "share": True}
    assert (pulse.anonymous, pulse.results_live, pulse.remind_after_minutes, pulse.timezone) == (
        True, False, 240, "Europe/Berlin")
    assert pulse.recurrence is not None and pulse.recurrence["local"] and pulse.recurrence["day"] == "fri"
    assert [(q.kind, q.allow_comment) for q in questions] == [("scale", True), ("yesno", False)]
