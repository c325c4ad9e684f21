"""Every action on people data in chat leaves one audit entry, in the action's own transaction: pulse results read
and exported (and `earshot pulse-export`), digest previews, subscriptions and unsubscriptions, station changes.
Refused or idle attempts leave none, and no entry carries an answer, a comment, customer text or an e-mail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.cli import main
from bot.events import FormSubmitted, Person
from storage.engine import Database
from tests.governance.audit_support import assert_chain_ok, assert_nowhere, entries, facts, say
from tests.pulses.support import MEMBERS, buttons, exported_csv, launched_card, vote
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

COMMENT = "Zebra-lantern: my manager shouts at the Tuesday stand-up"
CUSTOMER_TEXT = "Quokka-invoice: the refund page ate my card twice"
CUSTOMER_EMAIL = "planted.customer@example.org"


@pytest.fixture
async def harness(db: Database) -> CoreHarness:
    h = make_harness(db, EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="5")
    h.adapter.members["C1"] = list(MEMBERS)
    await h.grant("boss", "manager")
    await h.grant("hr1", "hr")
    return h


async def named_pulse_with_a_comment(h: CoreHarness) -> None:
    """Pulse #1, named, one free-text question, answered by u1 with COMMENT, then closed."""
    await say(h, "pulse", '"Anything else?" text named', "boss")
    ((action, _, _),) = buttons(await launched_card(h))
    (form,) = (await vote(h, "u1", action, "text")).forms
    answered = FormSubmitted(platform="test", event_id="answer-1", actor=Person("test", "u1"), channel_id=None,
                             form_id=form.form_id, values={"comment": COMMENT})
    assert await h.core.handle(answered, RecordingResponder()) is None
    assert await h.features.pulses.pulses.close(1)
    await h.deliver()


async def test_results_and_exports_are_recorded_once_each_without_the_comment(harness: CoreHarness,
                                                                              db: Database) -> None:
    await named_pulse_with_a_comment(harness)
    assert await entries(db) == []  # launching, answering and closing read no one's results
    shown = await say(harness, "pulse", "results 1", "boss")
    assert COMMENT in str(shown.private_cards[-1].blocks)  # the comment went through the path recorded
    assert [facts(e) for e in await entries(db)] == [("test:boss", "pulse.results_viewed", "pulse:1", {"run": 1})]

    refused = await say(harness, "pulse", "results 1", "u3")
    assert "results are for the pulse's author" in refused.last_text
    assert len(await entries(db)) == 1  # a refusal reads nothing and records nothing

    assert COMMENT in await exported_csv(harness, user="hr1")
    assert [facts(e) for e in await entries(db, "pulse.exported")] == [
        ("test:hr1", "pulse.exported", "pulse:1", {"run": 1, "format": "csv", "rows": 1})]
    await assert_nowhere(db, COMMENT, "Zebra-lantern")
    await assert_chain_ok(db, harness.core.services.keys)


@sqlite_only
async def test_earshot_pulse_export_is_recorded_as_the_command_lines(harness: CoreHarness, db: Database, db_url: str,
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    await named_pulse_with_a_comment(harness)
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "pulse.csv"
    assert await asyncio.to_thread(main, ["pulse-export", "1", "-o", str(out)]) == 0
    assert COMMENT in out.read_text(encoding="utf-8-sig")
    assert [facts(e) for e in await entries(db)] == [("cli", "pulse.exported", "pulse:1",
                                                      {"run": 1, "format": "csv", "rows": 1})]
    assert await asyncio.to_thread(main, ["pulse-export", "9", "-o", str(out)]) == 2  # no such pulse: no entry
    assert len(await entries(db)) == 1
    await assert_nowhere(db, COMMENT)
    await assert_chain_ok(db, harness.core.services.keys)


@sqlite_only
async def test_digest_previews_and_subscriptions_are_recorded_without_customer_words(harness: CoreHarness,
                                                                                      db: Database) -> None:
    moment = datetime(2026, 11, 20, 12, tzinfo=UTC)  # a Friday in 2026-W47
    harness.core.services.clock = lambda: moment
    result = await harness.features.stations.ingest.ingest([{
        "id": "planted-1", "source": "nps", "text": CUSTOMER_TEXT, "score": 3, "score_type": "nps",
        "customer": {"name": "Zed Planted", "email": CUSTOMER_EMAIL}, "created_at": moment.isoformat()}])
    assert result.accepted == 1

    for words in ("preview", "subscribe", "unsubscribe"):  # without the HR role: refused, nothing recorded
        await say(harness, "digest", words, "u2", channel="C-hr")
    assert await entries(db) == []

    preview = await say(harness, "digest", "preview", "hr1", channel="C-hr")
    assert "2026-W47" in str(preview.private_cards[-1].blocks[0])
    await say(harness, "digest", "subscribe friday 16:30 Europe/Berlin", "hr1", channel="C-hr")
    await say(harness, "digest", "unsubscribe", "hr1", channel="C-hr")
    await say(harness, "digest", "unsubscribe", "hr1", channel="C-hr")  # nothing left to stop: nothing recorded
    assert [facts(e) for e in await entries(db)] == [
        ("test:hr1", "digest.previewed", "digest:2026-W47", {"format": "card"}),
        ("test:hr1", "digest.subscribed", "channel:test:C-hr",
         {"weekday": 4, "at": "16:30", "timezone": "Europe/Berlin"}),
        ("test:hr1", "digest.unsubscribed", "channel:test:C-hr", {}),
    ]
    await assert_nowhere(db, CUSTOMER_TEXT, "Quokka", CUSTOMER_EMAIL, "Zed Planted")
    await assert_chain_ok(db, harness.core.services.keys)


@sqlite_only
async def test_station_changes_are_recorded_and_refusals_are_not(harness: CoreHarness, db: Database) -> None:
    await say(harness, "station", "add all", "u2")  # not a manager
    await say(harness, "station", "add nps:detractor", "boss")
    await say(harness, "station", "pause 1", "boss")
    await say(harness, "station", "pause 1", "boss")  # already paused: refused
    await say(harness, "station", "resume 1", "boss")
    await say(harness, "station", "remove 1", "u2")  # not a manager
    await say(harness, "station", "remove 1", "boss")
    channel = {"channel": "test:C1"}
    assert [facts(e) for e in await entries(db)] == [
        ("test:boss", "station.added", "station:1", channel),
        ("test:boss", "station.paused", "station:1", channel),
        ("test:boss", "station.resumed", "station:1", channel),
        ("test:boss", "station.removed", "station:1", channel),
    ]
    await assert_chain_ok(db, harness.core.services.keys)
