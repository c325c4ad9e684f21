"""The people field of a Teams form: the conversation's members as choices (bot ids, not Azure AD ids), the
typeahead Teams asks the bot for as someone types, and a pulse launched to the people picked, over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import select

from adapters.teams.people import SEARCH_RESPONSE, Search, search_of, search_response
from adapters.teams.render import MULTI_KEY, PEOPLE_CHOICES, PEOPLE_DATASET, PEOPLE_TEXT_PLACEHOLDER, render_form
from bot.cards import Form, Input
from bot.events import Person
from bot.roles import grant
from storage.engine import Database
from storage.tables import Pulse
from tests.support.core import make_harness
from tests.support.server import Running, running_app
from tests.teams.activities import as_received, recorded
from tests.teams.fake_connector import FakeConnector, running_connector
from tests.teams.test_files import at, posted
from tests.teams.test_http import ANA, BEN, TENANT, post
from tests.teams.test_turn import Turns

CARD = "application/vnd.microsoft.card.adaptive"


def test_a_people_field_offers_the_members_by_bot_id_and_searches_for_more() -> None:
    form = Form("pulse-new", "New pulse", (Input("people", "People", kind="people", required=False),))
    members = [Person("teams", "29:zoe", "Zoë"), Person("teams", "29:ana", "ana"), Person("teams", "29:bo", None)]
    card = render_form(form, people=members)
    (field,) = [e for e in card["body"] if e.get("id") == "input:people"]
    assert (field["type"], field["isMultiSelect"], field["style"]) == ("Input.ChoiceSet", True, "filtered")
    assert field["choices"] == [{"title": "29:bo", "value": "29:bo"}, {"title": "ana", "value": "29:ana"},
                                {"title": "Zoë", "value": "29:zoe"}]
    assert field["choices.data"] == {"type": "Data.Query", "dataset": PEOPLE_DATASET}
    assert card["body"][-1]["actions"][0]["data"][MULTI_KEY] == ["people"]  # "29:a,29:b" comes back as a list
    crowd = [Person("teams", f"29:{n:04d}", f"Person {n:04d}") for n in range(1_000)]
    (field,) = [e for e in render_form(form, people=crowd)["body"] if e.get("id") == "input:people"]
    assert len(field["choices"]) == PEOPLE_CHOICES and len(json.dumps(field)) < 20_000  # the rest by typing


def test_with_no_one_to_offer_the_people_field_takes_ids_as_text() -> None:
    """An Input.ChoiceSet with no choice is refused by Microsoft's renderer (issue 14, point 8)."""
    form = Form("pulse-new", "New pulse", (Input("people", "People", kind="people", required=False),))
    (field,) = [e for e in render_form(form)["body"] if e.get("id") == "input:people"]
    assert (field["type"], field["placeholder"]) == ("Input.Text", PEOPLE_TEXT_PLACEHOLDER)
    assert "choices" not in field and "choices.data" not in field


async def test_a_form_in_a_one_to_one_chat_offers_the_people_earshot_has_seen(db: Database) -> None:
    async with db.session() as session:
        await grant(session, "teams", ANA, "manager")
        await session.commit()
    turns = Turns(make_harness(db))
    (reply,) = await turns.run(recorded("message_personal_command", id="1709549999002", text="pulse"))
    (field,) = [e for e in reply.attachments[0].content["body"] if e.get("id") == "input:people"]
    assert field["type"] == "Input.ChoiceSet" and field["choices"] == [{"title": "Ana Souza", "value": ANA}]


def test_the_search_invoke() -> None:
    assert search_of(as_received(recorded("invoke_search_people"))) == Search("be", 0, 15)
    other = recorded("invoke_search_people")
    other["value"] = {**other["value"], "dataset": "graph.microsoft.com/users"}
    assert search_of(other) is None
    hostile = recorded("invoke_search_people", value={"queryText": ["x"], "queryOptions": {"skip": -4, "top": 999},
                                                       "dataset": PEOPLE_DATASET})
    assert search_of(hostile) == Search("", 0, 15)
    assert search_of(recorded("invoke_vote")) is None
    assert search_response([Person("teams", "29:ben", "Ben Okafor")]) == {
        "type": SEARCH_RESPONSE, "value": {"results": [{"value": "29:ben", "title": "Ben Okafor"}]}}


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with running_connector() as fake:
        fake.members = [{"id": ANA, "name": "Ana Souza"}, {"id": BEN, "name": "Ben Okafor"},
                        {"id": "29:cleo", "name": "Cléo Martin"}]
        yield fake


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Running]:
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1", EARSHOT_ADMINS=f"teams:{ANA}") as running:
        yield running


def inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in card["body"] if str(e.get("id", "")).startswith("input:")}


async def test_a_pulse_goes_to_the_people_picked_in_the_form(server: Running, connector: FakeConnector) -> None:
    await post(server, at(connector, "message_channel_command", text="<at>Earshot</at> pulse"))
    form = await posted(connector, CARD)
    people = inputs(form.card)["input:people"]
    assert [c["title"] for c in people["choices"]] == ["Ana Souza", "Ben Okafor", "Cléo Martin"]

    status, body = await post(server, at(connector, "invoke_search_people", value={
        "queryText": "cLé", "queryOptions": {"skip": 0, "top": 15}, "dataset": PEOPLE_DATASET}))
    assert status == 200 and body["value"]["results"] == [{"value": "29:cleo", "title": "Cléo Martin"}]
    status, body = await post(server, at(connector, "invoke_search_people", id="f:search-2", value={
        "queryText": "a", "queryOptions": {"skip": 1, "top": 15}, "dataset": PEOPLE_DATASET}))
    assert [r["title"] for r in body["value"]["results"]] == ["Ben Okafor", "Cléo Martin"]  # after Ana Souza

    (action,) = form.card["body"][-1]["actions"]
    filled = {"input:title": "Quick one", "input:questions": "yesno: Coffee at 3?", "input:audience": "people",
              "input:people": f"{BEN},29:cleo", "input:anonymous": "no", "input:results": "live",
              "input:share": "no", "input:close": "", "input:remind": "", "input:every": "", "input:when": "zone",
              "input:tz": "UTC"}
    invoke = at(connector, "invoke_form", id="f:people-form",
                conversation={"id": form.conversation_id, "conversationType": "personal", "tenantId": TENANT})
    invoke["value"]["action"] = {"type": "Action.Execute", "verb": action["verb"],
                                 "data": {**action["data"], **filled}}
    before = len(connector.writes())
    status, body = await post(server, invoke)
    assert status == 200 and "✓ New pulse" in json.dumps(body, ensure_ascii=False)
    async with server.runtime.db.session() as session:
        (pulse,) = list(await session.exec(select(Pulse)))
    assert pulse.audience["users"] == [BEN, "29:cleo"]
    async with asyncio.timeout(10):
        while len(created := [c for c in connector.writes()[before:] if c.segments == ["conversations"]]) < 2:
            await connector.wait_for(len(connector.writes()) + 1)
    assert sorted(c.body["members"][0]["id"] for c in created) == sorted([BEN, "29:cleo"])  # a DM each
    async with asyncio.timeout(10):  # the question in each (and nothing left in flight at the end)
        while len(asked := {c.conversation_id for c in connector.posts() if "Coffee at 3?" in json.dumps(
                c.body, ensure_ascii=False) and c.conversation_id != form.conversation_id}) < 2:
            await connector.wait_for(len(connector.writes()) + 1)
    assert len(asked) == 2


async def test_the_typeahead_matches_any_case_and_script_and_skips_people_who_blocked_the_bot(db: Database) -> None:
    from adapters.teams.references import References

    references = References(db)
    await references.remember_names([Person("teams", "29:osten", "Östen Lind"), Person("teams", "29:zoe", "zoe"),
                                     Person("teams", "29:mei", "田中 芽衣"), Person("teams", "29:gone", "Östlund")])
    await references.mark_unreachable("29:gone", "blocked the bot")
    assert [p.name for p in await references.find_people("ös", 0, 15)] == ["Östen Lind"]
    assert [p.name for p in await references.find_people("芽衣", 0, 15)] == ["田中 芽衣"]
    assert [p.name for p in await references.find_people("", 0, 15)] == ["zoe", "Östen Lind", "田中 芽衣"]
    await references.remember_name("29:new", "Ösa Berg")  # a new name shows at once
    assert [p.name for p in await references.find_people("ÖS", 0, 15)] == ["Ösa Berg", "Östen Lind"]
    assert [p.name for p in await references.find_people("", 1, 2)] == ["Ösa Berg", "Östen Lind"]  # a page
