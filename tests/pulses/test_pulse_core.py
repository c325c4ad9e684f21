"""Pulses through the core with a recording adapter: launching, answering, anonymity, closing, reminders."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.events import Person
from storage.tables import Participation, Pulse, PulseRun, Response
from tests.pulses.support import MEMBERS, buttons, channel_card, command, exported_csv, launched_card, vote
from tests.support.core import CoreHarness
from tests.support.recording import RecordingResponder


async def test_one_line_pulse_in_the_channel_with_live_results(harness: CoreHarness) -> None:
    reply = await command(harness, '"Week 47: how was it?" scale:1-5 named')
    assert "“Week 47: how was it?” goes to this channel, now" in reply.last_text
    card = await launched_card(harness)
    actions = buttons(card)
    assert [label for _, label, _ in actions] == ["1 😞", "2 🙁", "3 😐", "4 🙂", "5 😀"]
    action = actions[0][0]
    for user, value in (("u1", "4"), ("u2", "5"), ("u3", "4")):
        assert "Recorded" in (await vote(harness, user, action, value)).last_text
    assert "Recorded: 2 🙁" in (await vote(harness, "u1", action, "2")).last_text  # named: may change
    await harness.deliver()
    latest = channel_card(harness)
    assert "average 3.67 / 5" in str(latest.blocks) and "3 answered" in str(latest.blocks)
    results = await command(harness, "results")
    assert "3 answered" in str(results.private_cards[-1].blocks)


@pytest.mark.parametrize("spec, value, summary", [
    ('"Lunch?" choices:"Pizza, Sushi, Salad" named', "1", "Sushi"),
    ('"Which days?" multi:"Mon, Tue, Wed" named', ("0", "2"), "Mon"),
    ('"Recommend us?" enps named', "10", "eNPS +100"),
    ('"Enough time?" yesno named', "yes", "👍 Yes"),
])
async def test_question_kinds(harness: CoreHarness, spec: str, value: str | tuple[str, ...], summary: str) -> None:
    await command(harness, spec)
    card = await launched_card(harness)
    action = next(b.action_id if b.type == "choices" else b.buttons[0].action_id  # type: ignore[union-attr]
                  for b in card.blocks if b.type in ("buttons", "choices"))
    assert "Recorded" in (await vote(harness, "u1", action, value)).last_text
    await harness.deliver()
    assert summary in str(channel_card(harness).blocks)


async def test_free_text_goes_through_a_form(harness: CoreHarness) -> None:
    from bot.events import FormSubmitted

    await command(harness, '"Anything else?" text named')
    card = await launched_card(harness)
    ((action, _, _),) = buttons(card)
    opened = await vote(harness, "u1", action, "text")
    (form,) = opened.forms
    responder = RecordingResponder()
    empty = FormSubmitted(platform="test", event_id="f0", actor=Person("test", "u1"), channel_id=None,
                          form_id=form.form_id, values={"comment": "  "})
    assert await harness.core.handle(empty, responder) == {"comment": "Write a few words, or cancel."}
    words = FormSubmitted(platform="test", event_id="f1", actor=Person("test", "u1"), channel_id=None,
                          form_id=form.form_id, values={"comment": "Более гибкий график, пожалуйста 🙏"})
    assert await harness.core.handle(words, responder) is None
    await harness.deliver()
    assert "Более гибкий график" in str(channel_card(harness).blocks)


async def test_anonymous_answers_are_final_unlinked_and_hidden_below_the_minimum(harness: CoreHarness,
                                                                                  db_url: str) -> None:
    await command(harness, '"Honestly, how is it?" scale anonymous')
    card = await launched_card(harness)
    action = buttons(card)[0][0]
    assert "Anonymous" in str(card.blocks)
    assert "anonymous answer is in" in (await vote(harness, "u1", action, "2")).last_text
    assert "Anonymous answers are final" in (await vote(harness, "u1", action, "5")).last_text
    await vote(harness, "u2", action, "4")
    await harness.deliver()
    hidden = channel_card(harness)
    assert "results show from 3 answers" in str(hidden.blocks) and "average" not in str(hidden.blocks)
    for user in ("u3", "u4", "u5"):  # three at the minimum of 3 wait sealed: a batch needs 3 and keeps 3 back
        await vote(harness, user, action, "4")
        await harness.deliver()
        assert "average" not in str(channel_card(harness).blocks)
        assert "figures show once 6 have answered, or at close" in str(channel_card(harness).blocks)
    async with harness.db.session() as session:
        assert not list(await session.exec(select(Response)))
        sealed = [p.sealed for p in await session.exec(select(Participation))]
    assert len(sealed) == 5 and all(s and s.startswith("enc1:") for s in sealed) and len(set(map(len, sealed))) == 1
    await vote(harness, "u6", action, "4")
    await harness.deliver()
    assert "average" in str(channel_card(harness).blocks)  # a batch of 3 of the 6
    assert await harness.features.pulses.pulses.close(1)
    await harness.deliver()
    assert "average 3.67 / 5" in str(channel_card(harness).blocks)  # 2, 4, 4, 4, 4, 4: all of them at close
    async with harness.db.session() as session:
        responses = list(await session.exec(select(Response)))
        who = list(await session.exec(select(Participation)))
    assert all(r.respondent_id is None for r in responses) and len(responses) == 6
    assert {p.user_id for p in who} == {"u1", "u2", "u3", "u4", "u5", "u6"} and all(p.sealed is None for p in who)
    assert all(len(r.id) == 32 and not r.id.isdigit() for r in responses)
    if db_url.startswith("sqlite"):  # a dump of the database links no answer to a person
        dump = "\n".join(sqlite3.connect(db_url.split("///", 1)[1]).iterdump())
        for line in dump.splitlines():
            if line.startswith('INSERT INTO "response"'):
                assert not any(user in line for user in ("u1", "u2", "u3"))


async def test_dm_audience_reminders_and_close(harness: CoreHarness) -> None:
    await command(harness, '"Quick one?" yesno to:dm remind:1h close:1d share')
    await harness.deliver()
    dms = [s for s in harness.adapter.sent if s.target.user_id and s.card.fallback.startswith("Pulse:")]
    assert sorted(s.target.user_id for s in dms) == sorted(MEMBERS)
    action = buttons(dms[0].card)[0][0]
    await vote(harness, "u1", action, "yes")
    async with harness.db.session() as session:
        run = (await session.exec(select(PulseRun))).one()
        run.opened_at -= timedelta(hours=2)
        session.add(run)
        await session.commit()
    await harness.features.pulses.pulses.due()
    await harness.features.pulses.pulses.due()  # reminders go once
    await harness.deliver()
    reminded = sorted(s.target.user_id for s in harness.adapter.sent if s.card.fallback.startswith("Reminder"))
    assert reminded == sorted(set(MEMBERS) - {"u1"})
    async with harness.db.session() as session:
        run = (await session.exec(select(PulseRun))).one()
        run.closes_at = run.opened_at
        session.add(run)
        await session.commit()
    await harness.features.pulses.pulses.due()
    await harness.deliver()
    finals = [s for s in harness.adapter.sent if s.card.fallback.startswith("Results:")]
    assert {s.target.user_id or s.target.channel_id for s in finals} == {"boss", "C1"}
    assert "1 answered of 8 (12%)" in str(finals[0].card.blocks)
    assert "closed" in (await vote(harness, "u2", action, "no")).last_text


async def test_permissions(harness: CoreHarness) -> None:
    refused = await command(harness, '"Hi?" yesno', user="u1")
    assert "Only managers and admins can launch pulses" in refused.last_text
    await command(harness, '"Hi?" yesno')
    assert "results are for the pulse's author, HR and admins" in (await command(harness, "results", "u1")).last_text
    assert "answered" in str((await command(harness, "results", "hr")).private_cards[-1].blocks)
    assert "only the pulse's author or an admin" in (await command(harness, "close 1", "hr")).last_text
    assert "is closed" in (await command(harness, "close 1 now")).last_text
    async with harness.db.session() as session:
        assert (await session.exec(select(Pulse))).one().status == "ended"


@pytest.mark.parametrize("text, message", [
    ('"Q?" scael:1-5', "Did you mean scale?"),
    ('"Q?" close:2x', "is not a duration"),
    ('"Q?" every:someday', "I can't read every:someday"),
    ('"Q?" choices:"only one"', "needs 2 to 10 options"),
    ("scale", "put the question in quotes first"),
    ('"Q?" to:nowhere', "say to:here, to:dm"),
    ('"Q?" local', "local (each person's own time) needs DMs"),
    ("template nope", "no template “nope”"),
    ('"Q?" tz:Mars/Base', "unknown timezone"),
])
async def test_bad_one_line_syntax_is_explained(harness: CoreHarness, text: str, message: str) -> None:
    assert message in (await command(harness, text)).last_text


async def test_templates_and_the_creation_form(harness: CoreHarness) -> None:
    from bot.events import FormSubmitted

    await command(harness, "template customers to:dm")
    harness.adapter.members["C1"].append("boss")  # the form's channel is checked: its author is in it
    await harness.deliver()
    card = next(s.card for s in harness.adapter.sent if s.card.fallback == "Pulse: Hearing customers")
    assert "Do you hear from customers enough?" in str(card.blocks)
    opened = await command(harness, "")
    (form,) = opened.forms
    bad = FormSubmitted(platform="test", event_id="n1", actor=Person("test", "boss"), channel_id=None,
                        form_id=form.form_id, metadata=form.metadata,
                        values={"title": "", "questions": "single: Pick | only", "close": "soon"})
    errors = await harness.core.handle(bad, RecordingResponder())
    assert errors is not None and set(errors) == {"title", "questions", "close"}
    good = FormSubmitted(platform="test", event_id="n2", actor=Person("test", "boss"), channel_id=None,
                         form_id=form.form_id, metadata=form.metadata,
                         values={"title": "Friday", "questions": "scale: Energy?\nyesno: Blocked?\ntext: Wins?",
                                 "audience": "channel", "anonymous": "no", "results": "live", "close": "2d"})
    assert await harness.core.handle(good, RecordingResponder()) is None
    await harness.deliver()
    friday = next(s.card for s in harness.adapter.sent if s.card.fallback == "Pulse: Friday")
    assert "3. Wins?" in str(friday.blocks)


async def test_export_is_csv_without_names_for_anonymous_pulses(harness: CoreHarness, db_url: str,
                                                                tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import os
    import subprocess
    import sys

    await command(harness, '"Fair pay?" yesno anonymous')
    card = await launched_card(harness)
    action = buttons(card)[0][0]
    for user in ("u1", "u2", "u3"):
        await vote(harness, user, action, "yes")
    assert "hidden" in await exported_csv(harness)  # three wait sealed until a batch of six, or the close
    await harness.features.pulses.pulses.close(1)
    csv_text = await exported_csv(harness)
    assert csv_text.startswith("question,answer,score,comment,answered_on\r\n") and "person" not in csv_text
    assert "u1" not in csv_text and csv_text.count("Fair pay?,👍 Yes") == 3
    out = tmp_path / "pulse.csv"
    result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "adapters.cli", "pulse-export", "1",
                                                      "-o", str(out)], capture_output=True, text=True,
                                     env={**os.environ, "DATABASE_URL": db_url, "EARSHOT_ANON_MIN": "3"}, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "question,answer,score,comment,answered_on" and len(lines) == 4


async def test_a_named_export_goes_whole_by_dm_with_a_person_column(harness: CoreHarness) -> None:
    await command(harness, '"Lunch together on Friday?" yesno named')
    action = buttons(await launched_card(harness))[0][0]
    voters = [f"person-{n:03d}" for n in range(90)]
    harness.adapter.members["C1"] = voters
    for user in voters:
        await vote(harness, user, action, "yes")
    csv_text = await exported_csv(harness)
    lines = csv_text.splitlines()
    assert len(csv_text) > 2_500 and len(lines) == 1 + len(voters)  # all of it, not the first rows
    assert lines[0] == "question,answer,score,comment,answered_on,person,name"
    assert sorted(line.split(",")[5] for line in lines[1:]) == [f"test:{u}" for u in voters]


async def test_a_named_export_names_people_and_counts_rows_not_line_breaks(harness: CoreHarness) -> None:
    from bot.events import FormSubmitted, Target
    from storage.tables import Person as PersonRow

    async with harness.db.session() as session:
        session.add(PersonRow(platform="test", user_id="u1", display_name="Uma Ito"))
        await session.commit()
    await command(harness, '"Anything else?" text named')
    ((action, _, _),) = buttons(await launched_card(harness))
    (form,) = (await vote(harness, "u1", action, "text")).forms
    await harness.core.handle(FormSubmitted(platform="test", event_id="f1", actor=Person("test", "u1"),
                                            channel_id=None, form_id=form.form_id,
                                            values={"comment": "First line\nsecond line"}), RecordingResponder())
    rows = list(csv.reader(io.StringIO(await exported_csv(harness))))
    assert rows[1][5:] == ["test:u1", "Uma Ito"] and "First line\nsecond line" in rows[1]
    dm = next(s.card for s in reversed(harness.adapter.sent) if s.target == Target.user("test", "boss"))
    assert "1 row" in str(dm.blocks) and "2 rows" not in str(dm.blocks)


async def test_refreshes_of_one_run_never_overlap_and_the_last_count_wins(harness: CoreHarness) -> None:
    import asyncio

    await command(harness, '"Coffee machine fixed?" scale:1-5')
    action = buttons(await launched_card(harness))[0][0]
    pulses = harness.features.pulses.pulses
    real_results = pulses.results
    running, most = 0, 0

    async def slow_results(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.05)  # a slow count, overtaken by newer votes
            return await real_results(*args, **kwargs)
        finally:
            running -= 1

    pulses.results = slow_results  # type: ignore[method-assign]
    for n in range(6):
        await vote(harness, f"u{n}", action, "5")
        await asyncio.sleep(0.02)
    await harness.deliver()
    assert most == 1
    assert "6 answered" in str(channel_card(harness).blocks)


async def test_close_stops_a_schedule_before_its_first_run_and_prefers_an_open_run(harness: CoreHarness) -> None:
    """Was: “pulse #2 hasn't run yet” — a recurring pulse could not be stopped before it first ran, and a bare
    close picked it over the caller's open one-off."""
    await command(harness, '"Lunch today?" yesno')
    await command(harness, '"Weekly?" scale every:fri@16:00')
    assert "“Lunch today?” is closed" in (await command(harness, "close 1 now")).last_text
    assert "“Weekly?” won't run again" in (await command(harness, "close 2 now")).last_text
    async with harness.db.session() as session:
        assert [p.status for p in await session.exec(select(Pulse).order_by(Pulse.id))] == ["ended", "ended"]
    assert "has ended" in (await command(harness, "close 2")).last_text
    assert "already closed" in (await command(harness, "close 1")).last_text
    assert "no open pulse in this channel" in (await command(harness, "close")).last_text
    assert "no open pulse in this channel" in str((await command(harness, "close 1")).private_cards[-1].blocks)


async def test_a_multi_choice_answer_names_each_option_once(harness: CoreHarness) -> None:
    """Was: ("1", "1") was “Recorded: 1,1” and counted Tue twice (150 %); a value that isn't an index crashed."""
    await command(harness, '"Which days?" multi:"Mon, Tue, Wed" named')
    card = await launched_card(harness)
    action = next(b.action_id for b in card.blocks if b.type == "choices")  # type: ignore[union-attr]
    for value in (("1", "1"), ("1", "x"), ("12",)):
        assert "That isn't one of the answers" in (await vote(harness, "u1", action, value)).last_text
    assert "Recorded: Mon, Wed" in (await vote(harness, "u1", action, ("2", "0"))).last_text
    async with harness.db.session() as session:
        assert [r.value for r in await session.exec(select(Response))] == ["0,2"]


async def test_a_manager_sends_a_pulse_only_to_channels_they_are_in(harness: CoreHarness) -> None:
    """Was: a manager could post a named pulse to any channel the bot is in and read its live results."""
    harness.adapter.members["C-other"] = ["u1", "u2", "u3"]
    refused = await command(harness, '"Coffee?" yesno to:#C-other')
    assert "only to a channel you are in" in refused.last_text
    harness.adapter.members["C-other"].append("boss")
    assert "goes to that channel" in (await command(harness, '"Coffee?" yesno to:#C-other')).last_text
    await harness.grant("root", "admin")
    harness.adapter.members["C-else"] = ["u1"]
    assert "goes to that channel" in (await command(harness, '"Tea?" yesno to:#C-else', user="root")).last_text


async def test_one_line_mistakes_that_were_accepted_are_refused(harness: CoreHarness) -> None:
    """Was: the last kind won silently, and a reminder after the close was accepted (it could never go out)."""
    assert "one question, one kind: yesno or text?" in (await command(harness, '"Q?" yesno text')).last_text
    assert "after the pulse closes" in (await command(harness, '"Q?" yesno remind:4h close:1h')).last_text
    async with harness.db.session() as session:
        assert list(await session.exec(select(Pulse))) == []


async def test_results_without_an_id_are_of_the_callers_own_newest_pulse(harness: CoreHarness) -> None:
    """Was: a colleague's newer pulse in the channel was picked, and its author's results refused."""
    await harness.grant("boss2", "manager")
    await command(harness, '"Mine?" yesno')
    await command(harness, '"Theirs?" yesno', user="boss2")
    assert "Mine?" in (await command(harness, "results")).last_text
    assert "Theirs?" in (await command(harness, "results", user="boss2")).last_text


async def test_a_closed_pulse_says_when_it_closed_not_when_it_would_have(harness: CoreHarness) -> None:
    await command(harness, '"Ship on Friday?" yesno close:1d tz:Europe/Berlin named')
    await launched_card(harness)
    harness.core.services.clock = lambda: datetime(2031, 2, 3, 11, 5, tzinfo=UTC)
    assert await harness.features.pulses.pulses.close(1)
    await harness.deliver()
    closed = str(channel_card(harness).blocks)
    assert "closed Mon 03 Feb 12:05 Europe/Berlin" in closed and "closes " not in closed
