"""Erasing an employee reaches past their own rows: the stored CSV exports of named pulses that hold their
answers (made for whoever exported them) go, and the cards offering them say so; a pulse asked of them by name
keeps its audience's size under the erasure's token instead of their id; the results cards that quoted their
comments are edited without them."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from bot.governance.erasure import COMMENT_REMOVED, EXPORT_REMOVED, Eraser
from bot.governance.former import is_erased
from storage.engine import Database
from storage.tables import Delivery, Pulse, StoredFile
from tests.pulses.support import MEMBERS, buttons, command, exported_csv, submit, vote
from tests.support.core import CoreHarness, make_harness

COMMENT = "Zebraquokka says the standup is too long"


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db, EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="5")
    h.adapter.members["C1"] = list(MEMBERS)
    await h.grant("boss", "manager")
    return h


async def named_pulse(h: CoreHarness, prompt: str, answering: list[str]) -> None:
    reply = await command(h, f"'{prompt}' choices:\"Good, Bad\" comment named")
    assert "goes to this channel" in reply.last_text, reply.last_text
    await h.deliver()
    card = next(s.card for s in h.adapter.sent if s.card.fallback == f"Pulse: {prompt}")
    comment_button = next(action for action, _, _ in buttons(card) if action.startswith("pulse:comment:"))
    for user in answering:
        (form,) = (await vote(h, user, comment_button, "")).forms
        assert await submit(h, user, form.form_id, {"answer": "1", "comment": f"{COMMENT} ({user})"}) is None


def removed_everywhere(h: CoreHarness) -> bool:
    return any(EXPORT_REMOVED in json.dumps(card.to_json(), ensure_ascii=False) for _, card in h.adapter.updates)


async def test_exports_holding_their_answers_go_and_the_cards_say_so(harness: CoreHarness) -> None:
    h = harness
    await named_pulse(h, "Standup?", ["u0", "u1"])
    assert "test:u0" in await exported_csv(h)
    async with h.db.session() as session:
        session.add(Pulse(platform="test", channel_id="C1", author_id="boss", title="Picked people",
                          audience={"kind": "people", "users": ["u0", "u2"]}))
        await session.commit()
    await named_pulse(h, "Lunch?", ["u1"])  # the latest run: u0 never answered it
    kept = await exported_csv(h)
    assert "test:u0" not in kept

    eraser = Eraser(h.db, h.core.services.outbox, h.core.services.keys, h.settings)
    dry = await eraser.erase_person("test", "u0", actor="cli", dry_run=True)
    assert dry.counts["exports"] == 1 and dry.counts["audiences"] == 1
    await eraser.erase_person("test", "u0", actor="cli")
    await h.deliver()
    async with h.db.session() as session:
        files = [f.data.decode("utf-8-sig") for f in await session.exec(select(StoredFile))]
        cards = json.dumps([d.card for d in await session.exec(select(Delivery))], ensure_ascii=False)
        audience = (await session.exec(select(Pulse.audience).where(Pulse.title == "Picked people"))).one()
    assert files == [kept]  # the other export stays whole
    assert f"{COMMENT} (u0)" not in "".join(files) and EXPORT_REMOVED in cards
    assert removed_everywhere(h)  # the posted DM offering it was edited
    assert "u0" not in audience["users"] and len(audience["users"]) == 2 and is_erased(audience["users"][0])
    again = await eraser.erase_person("test", "u0", actor="cli", dry_run=True)
    assert again.counts["exports"] == 0 and again.counts["audiences"] == 0


async def test_results_cards_quoting_their_comments_are_edited(harness: CoreHarness) -> None:
    """The live cards are drawn again from the answers left; a closed run's results card loses the lines."""
    h = harness
    await named_pulse(h, "Standup?", ["u0", "u1"])
    await named_pulse(h, "Lunch?", ["u0", "u1"])
    await h.deliver()
    live = [json.dumps(card.to_json(), ensure_ascii=False) for _, card in h.adapter.updates
            if card.fallback == "Live results: Lunch?"]
    assert live and f"{COMMENT} (u0)" in live[-1]  # the author's live results quote it
    assert await h.features.pulses.pulses.close(1)  # Standup?'s run: its results card goes to the author
    await h.deliver()
    (final,) = [s.card for s in h.adapter.sent if s.card.fallback == "Results: Standup?"]
    assert f"{COMMENT} (u0)" in json.dumps(final.to_json(), ensure_ascii=False)

    eraser = Eraser(h.db, h.core.services.outbox, h.core.services.keys, h.settings)
    assert (await eraser.erase_person("test", "u0", actor="cli", dry_run=True)).counts["results_cards"] == 5
    await eraser.erase_person("test", "u0", actor="cli")
    await h.deliver()
    edits = {title: [json.dumps(card.to_json(), ensure_ascii=False) for _, card in h.adapter.updates
                     if card.fallback == title] for title in ("Live results: Lunch?", "Results: Standup?")}
    assert f"{COMMENT} (u0)" not in edits["Live results: Lunch?"][-1]
    assert f"{COMMENT} (u1)" in edits["Live results: Lunch?"][-1]
    assert COMMENT_REMOVED in edits["Results: Standup?"][-1] and f"{COMMENT} (u0)" not in edits["Results: Standup?"][-1]
    async with h.db.session() as session:
        stored = json.dumps([d.card for d in await session.exec(select(Delivery))], ensure_ascii=False)
    assert f"{COMMENT} (u0)" not in stored
