"""Absurd numbers in pulse commands, forms and buttons get a clear refusal, never an exception inside the core
(an OverflowError from timedelta, an integer out of the database's range): on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from adapters.cli import main
from bot.commands import UsageError
from bot.events import ActionEvent, MessageRef, Person
from bot.pulses.schedule import MAX_DURATION_DAYS
from bot.pulses.spec import parse_one_line, words_of
from storage.tables import Participation, Pulse, Response
from tests.pulses.support import buttons, command, launched_card, submit, vote
from tests.support.core import CoreHarness
from tests.support.recording import RecordingResponder

HUGE = "9" * 20
ENORMOUS = "9" * 5_000  # past Python's 4,300-digit limit for int()


async def pulses_stored(h: CoreHarness) -> int:
    async with h.db.session() as session:
        return (await session.exec(select(func.count()).select_from(Pulse))).one()


def errors_logged(h: CoreHarness) -> float:
    return sum(sample.value for metric in h.core.services.metrics.events.collect() for sample in metric.samples
               if sample.labels.get("outcome") == "error" and sample.name.endswith("_total"))


@pytest.mark.parametrize("options, message", [
    ("close:99999999999d", "close: at most 90 days"),
    ("close:91d", "close: at most 90 days"),
    ("close:13w", "close: at most 90 days"),
    (f"close:{ENORMOUS}m", "close: at most 90 days"),
    ("close:0d", "is not a duration"),
    ("close:²d", "is not a duration"),
    ("remind:99999999999h", "remind: at most 90 days"),
    ("every:99999999999w:mon", "I can't read every:"),
    (f"every:{ENORMOUS}w:mon", "I can't read every:"),
    ("every:month:99999999999999", "I can't read every:"),
    ("every:fri@99999999999999", "is not a time of day"),
])
async def test_absurd_durations_and_schedules_are_refused(harness: CoreHarness, options: str, message: str) -> None:
    reply = await command(harness, f'"x" scale {options}')
    assert message in reply.last_text
    assert await pulses_stored(harness) == 0
    assert errors_logged(harness) == 0


async def test_the_longest_close_is_taken(harness: CoreHarness) -> None:
    assert "goes to this channel" in (await command(harness, '"x" scale close:90d remind:12w')).last_text
    async with harness.db.session() as session:
        (pulse,) = await session.exec(select(Pulse))
    assert (pulse.close_after_minutes, pulse.remind_after_minutes) == (129_600, 120_960)


@pytest.mark.parametrize("sub", ["results", "export", "close"])
@pytest.mark.parametrize("number", [HUGE, "2147483648", "#99999999999", ENORMOUS, "²", "0"])
async def test_pulse_numbers_past_the_databases_range_are_refused(harness: CoreHarness, sub: str,
                                                                  number: str) -> None:
    await command(harness, '"x" scale')
    reply = await command(harness, f"{sub} {number}")
    assert "is not a pulse number; see /pulse list" in reply.last_text
    assert errors_logged(harness) == 0


@pytest.mark.parametrize("args", [["pulse-export", HUGE], ["pulse-export", "1", "--run", "2147483648"],
                                  ["pulse-export", ENORMOUS]])
def test_the_cli_refuses_pulse_numbers_past_the_databases_range(args: list[str],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2 and "is not a number from 1 to 2147483647" in capsys.readouterr().err


async def test_the_form_refuses_absurd_durations_beside_their_fields(harness: CoreHarness) -> None:
    form = (await command(harness, "")).forms[0]
    errors = await submit(harness, "boss", form.form_id, {
        "title": "x", "questions": "scale: x", "close": "99999999999d", "remind": ENORMOUS + "h",
        "every": "99999999999w:mon"}, form.metadata)
    assert isinstance(errors, dict) and set(errors) == {"close", "remind", "every"}
    assert (errors["close"], errors["remind"]) == ("close: at most 90 days", "remind: at most 90 days")
    assert "I can't read every:" in errors["every"]
    assert await pulses_stored(harness) == 0


@pytest.mark.parametrize("ids", [f"{HUGE}:1", f"1:{HUGE}", "2147483648:2147483648", f"{ENORMOUS}:1", "²:1"])
async def test_buttons_and_forms_naming_absurd_ids_expire_politely(harness: CoreHarness, ids: str) -> None:
    await command(harness, '"x" yesno')
    await launched_card(harness)
    for kind in ("vote", "text", "comment"):
        responder = RecordingResponder()
        await harness.core.handle(ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", "u1"),
                                              channel_id="C1", action_id=f"pulse:{kind}:{ids}", value="yes",
                                              message=MessageRef("test", "C1", "m1")), responder)
        assert responder.last_text == "That button no longer does anything."
    errors = await submit(harness, "u1", f"pulse-answer:{ids}", {"comment": "hello"})
    assert errors == {"_": "This form has expired; please open it again."}
    assert errors_logged(harness) == 0
    async with harness.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(Response))).one() == 0
        assert (await session.exec(select(func.count()).select_from(Participation))).one() == 0


async def test_a_real_vote_still_counts(harness: CoreHarness) -> None:
    await command(harness, '"x" yesno named')
    action = buttons(await launched_card(harness))[0][0]
    assert "Recorded" in (await vote(harness, "u1", action, "yes")).last_text


numbers = st.one_of(st.integers(min_value=-10, max_value=10**30).map(str), st.text("0123456789²٣", max_size=30))


@settings(max_examples=300, deadline=None)
@given(numbers, st.sampled_from(["m", "h", "d", "w", "x", ""]), numbers,
       st.sampled_from(["close:{n}{u}", "remind:{n}{u}", "every:{n}w:mon", "every:month:{n}", "every:fri@{n}",
                        "every:fri@{n}:{m}"]))
def test_any_number_in_a_one_line_pulse_is_taken_within_bounds_or_refused(n: str, unit: str, m: str,
                                                                          option: str) -> None:
    words = words_of(f'"x" scale {option.format(n=n, u=unit, m=m)}')
    try:
        spec = parse_one_line(words, "C1", "UTC", date(2026, 3, 2))
    except UsageError as error:
        assert str(error)
        return
    for minutes in (spec.close_after, spec.remind_after):
        assert minutes is None or 0 < minutes <= MAX_DURATION_DAYS * 1440


async def test_ids_of_runs_that_dont_exist_are_not_remembered(harness: CoreHarness) -> None:
    """Button ids come from clients: a miss must not grow the memo of questions (only real ones are kept)."""
    from bot.pulses.ballots import BallotBox

    box = BallotBox(harness.db, date.today)
    for n in range(1, 101):
        assert await box.meta(n, n) is None
    assert len(box._meta._values) == 0  # type: ignore[attr-defined]
