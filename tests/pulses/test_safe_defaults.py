"""Safe defaults (issue 16): pulses launched by command or template are anonymous unless `named`; a close says
what it closes and waits for a confirmation; wrong audiences and empty answers are named plainly."""

from __future__ import annotations

from sqlmodel import select

from bot.cards import Card
from storage.tables import Person as PersonRow
from storage.tables import Pulse, PulseRun
from tests.pulses.support import buttons, command, launched_card, vote
from tests.support.core import CoreHarness


async def stored(h: CoreHarness) -> list[tuple[str, bool, str, list[str]]]:
    """Each pulse's title, anonymity and status, with its runs' statuses."""
    async with h.db.session() as session:
        pulses = list(await session.exec(select(Pulse).order_by(Pulse.id)))  # type: ignore[arg-type]
        runs = list(await session.exec(select(PulseRun).order_by(PulseRun.id)))  # type: ignore[arg-type]
    return [(p.title, p.anonymous, p.status, [r.status for r in runs if r.pulse_id == p.id]) for p in pulses]


def card_text(card: Card) -> str:
    return str(card.blocks)


async def test_commands_and_templates_are_anonymous_unless_named(harness: CoreHarness) -> None:
    """Was: `/pulse template wellbeing to:dm` went out named (the form alone defaulted to anonymous)."""
    reply = await command(harness, "template wellbeing to:dm")
    assert "anonymous (the default; say named" in card_text(reply.private_cards[-1])
    await command(harness, '"Coffee?" yesno')
    await command(harness, "template workload named")
    assert [(title, anonymous) for title, anonymous, _, _ in await stored(harness)] == [
        ("Wellbeing check", True), ("Coffee?", True), ("Workload", False)]
    assert "anonymous (default) or named" in card_text((await command(harness, "help")).private_cards[-1])
    templates = card_text((await command(harness, "templates")).private_cards[-1])
    assert "anonymous unless you add named" in templates


async def test_a_bare_close_asks_first_and_keep_it_open_changes_nothing(harness: CoreHarness) -> None:
    """Was: a bare `/pulse close` closed the newest pulse at once, with no confirmation and no undo."""
    await command(harness, '"Lunch?" yesno named')
    await vote(harness, "u1", buttons(await launched_card(harness))[0][0], "yes")
    asked = (await command(harness, "close")).private_cards[-1]
    assert asked.fallback == "Close “Lunch?” now? 1 answered so far."
    (close, keep) = buttons(asked)
    assert (close[1], keep[1]) == ("Close", "Keep it open")
    assert await stored(harness) == [("Lunch?", False, "active", ["open"])]
    kept = await vote(harness, "boss", keep[0], keep[2])
    assert "Nothing changed: “Lunch?” stays open." in kept.last_text
    assert await stored(harness) == [("Lunch?", False, "active", ["open"])]
    closed = await vote(harness, "boss", close[0], close[2])
    assert "“Lunch?” is closed" in closed.last_text
    assert await stored(harness) == [("Lunch?", False, "ended", ["closed"])]
    assert "already closed" in (await vote(harness, "boss", close[0], close[2])).last_text


async def test_several_open_pulses_are_listed_each_with_its_own_close(harness: CoreHarness) -> None:
    await command(harness, '"Lunch?" yesno')
    await command(harness, '"Weekly?" scale every:fri@16:00')
    listed = (await command(harness, "close")).private_cards[-1]
    assert listed.fallback == "Your open pulses here:\n#2 “Weekly?” (scheduled)\n#1 “Lunch?”"
    weekly, lunch = buttons(listed)
    assert (weekly[1], lunch[1]) == ("Close #2…", "Close #1…")
    confirm = (await vote(harness, "boss", lunch[0], lunch[2])).private_cards[-1]
    assert confirm.fallback == "Close “Lunch?” now? 0 answered so far."
    stop = (await vote(harness, "boss", weekly[0], weekly[2])).private_cards[-1]
    assert stop.fallback == "Stop “Weekly?”? No run is open now; it won't run again."
    assert [status for _, _, status, _ in await stored(harness)] == ["active", "active"]  # asking closes nothing
    (yes, _) = buttons(stop)
    assert "“Weekly?” won't run again" in (await vote(harness, "boss", yes[0], yes[2])).last_text
    assert [(status, runs) for _, _, status, runs in await stored(harness)] == [("active", ["open"]), ("ended", [])]


async def test_a_close_button_is_checked_against_whoever_presses_it(harness: CoreHarness) -> None:
    """The button comes from a client, which may send it as anyone and for any pulse."""
    await command(harness, '"Lunch?" yesno')
    (close, _) = buttons((await command(harness, "close 1")).private_cards[-1])
    assert close[0] == "pulse-close:yes:1:1"
    assert "only the pulse's author or an admin" in (await vote(harness, "u1", close[0], "yes")).last_text
    assert "no longer does anything" in (await vote(harness, "boss", "pulse-close:yes:1:7", "yes")).last_text
    assert "no longer does anything" in (await vote(harness, "boss", "pulse-close:yes:9:1", "yes")).last_text
    assert await stored(harness) == [("Lunch?", True, "active", ["open"])]
    await harness.grant("root", "admin")
    assert "“Lunch?” is closed" in (await vote(harness, "root", close[0], "yes")).last_text


async def test_closing_an_id_that_is_not_open_lists_the_open_ones(harness: CoreHarness) -> None:
    """Was: `/pulse close 999` said "no open pulse" while three were open."""
    for title in ("One?", "Two?", "Three?"):
        await command(harness, f'"{title}" yesno')
    reply = (await command(harness, "close 999")).private_cards[-1]
    assert reply.fallback.startswith("I can't close #999: no such pulse here.\nYour open pulses here:")
    assert [label for _, label, _ in buttons(reply)] == ["Close #3…", "Close #2…", "Close #1…"]
    assert "“Two?” is closed" in (await command(harness, "close 2 now")).last_text
    again = (await command(harness, "close 2")).private_cards[-1]
    assert again.fallback.startswith("Pulse #2 “Two?” is already closed.\nYour open pulses here:")
    assert [label for _, label, _ in buttons(again)] == ["Close #3…", "Close #1…"]
    assert "say /pulse close, /pulse close ID" in (await command(harness, "close 1 please")).last_text
    assert [runs for _, _, _, runs in await stored(harness)] == [["open"], ["closed"], ["open"]]


async def test_an_empty_multi_select_asks_for_an_answer(harness: CoreHarness) -> None:
    """Was: “That isn't one of the answers” for a selection emptied again."""
    await command(harness, '"Which days?" multi:"Mon, Tue, Wed" named')
    card = await launched_card(harness)
    action = next(b.action_id for b in card.blocks if b.type == "choices")  # type: ignore[union-attr]
    assert (await vote(harness, "u1", action, ())).last_text == "Pick at least one answer."
    assert "Recorded: Tue" in (await vote(harness, "u1", action, ("1",))).last_text


async def test_a_typed_name_nobody_goes_by_is_refused_by_name(harness: CoreHarness) -> None:
    """Was: `to:@nobody` launched "to 1 people" where the platform can't look people up."""
    reply = await command(harness, '"Lunch?" yesno to:@nobody,@u1')
    assert "I don't know @nobody here: nothing was launched" in reply.last_text
    assert await stored(harness) == []
    async with harness.db.session() as session:
        session.add(PersonRow(platform="test", user_id="zoe", display_name="Zoe"))
        await session.commit()
    assert "goes to 1 person by DM" in (await command(harness, '"Lunch?" yesno to:@u1')).last_text  # in C1
    assert "goes to 2 people by DM" in (await command(harness, '"Tea?" yesno to:@zoe,<@x9>')).last_text


async def test_an_unknown_channel_is_not_called_one_you_are_not_in(harness: CoreHarness) -> None:
    """Was: `to:#nonexistent` said "only a channel you are in" (and an admin's launched into nowhere)."""
    refused = await command(harness, '"Coffee?" yesno to:#nonexistent')
    assert "I can't find the channel #nonexistent: there is no such channel, or Earshot isn't in it" in \
        refused.last_text
    harness.adapter.members["C-other"] = ["u1"]
    assert "you aren't in #C-other" in (await command(harness, '"Coffee?" yesno to:#C-other')).last_text
    await harness.grant("root", "admin")
    assert "I can't find the channel #nonexistent" in (
        await command(harness, '"Tea?" yesno to:#nonexistent', user="root")).last_text
    assert "goes to that channel" in (await command(harness, '"Tea?" yesno to:#C-other', user="root")).last_text
    assert [title for title, _, _, _ in await stored(harness)] == ["Tea?"]
