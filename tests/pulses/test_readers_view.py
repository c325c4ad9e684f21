"""What a pulse's readers see (issue 16, points 10 and 11): deadlines in each reader's own zone on every platform,
run numbers counted per pulse, the form starting in the asker's timezone, tally bars that line up whatever the
labels' script, and exports with a numeric score and named rows in a stable order."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

import regex
from slack_sdk.models.blocks import Block as SlackBlock

from adapters.slack.blocks import render_card as slack_card
from adapters.slack.text import mrkdwn
from adapters.teams.escape import WORD_JOINER, escape_markdown
from adapters.teams.render import render_card as teams_card
from bot.cards import Card, Context, When
from bot.events import CommandEvent, Person
from bot.pulses.results import QuestionResult, bars
from storage.tables import Person as PersonRow
from storage.tables import Question
from tests.pulses.support import buttons, command, exported_csv, launched_card, vote
from tests.support.core import CoreHarness
from tests.support.recording import RecordingResponder

DEADLINE = datetime(2031, 2, 4, 11, 5, tzinfo=UTC)


def moments(card: Card) -> list[When]:
    return [item for block in card.blocks if isinstance(block, Context) for item in block.items
            if isinstance(item, When)]


async def test_a_deadline_is_a_moment_each_platform_writes_in_the_readers_own_zone(harness: CoreHarness) -> None:
    """Was: "closes Tue 04 Feb 12:05 Europe/Berlin" for everyone, wherever they read it."""
    harness.core.services.clock = lambda: datetime(2031, 2, 3, 11, 5, tzinfo=UTC)
    await command(harness, '"Ship on Friday?" yesno close:1d tz:Europe/Berlin named')
    card = await launched_card(harness)  # delivered through the outbox: the moment survives its JSON
    (when,) = moments(card)
    assert (when.at, when.lead) == (DEADLINE, "closes")
    assert when == "closes Tue 04 Feb 12:05 Europe/Berlin"  # as text: the pulse's zone, said outright
    assert Card.from_json(card.to_json()) == card and moments(Card.from_json(card.to_json())) == [when]

    slack = slack_card(card).blocks
    for block in slack:
        SlackBlock.parse(block).validate_json()  # type: ignore[union-attr]
    context = [e["text"] for b in slack if b["type"] == "context" for e in b["elements"]]
    # a client that can't draw the date shows the fallback in the token's place: the lead is said once either way
    assert f"<!date^{int(DEADLINE.timestamp())}^closes {{date_short_pretty}} at {{time}}|closes Tue 04 Feb 12:05 " \
           "Europe/Berlin>" in context
    (line,) = [text for text in context if "<!date^" in text]
    assert regex.sub(r"<!date\^[^|]*\|([^>]*)>", r"\1", line) == "closes Tue 04 Feb 12:05 Europe/Berlin"

    teams = str(teams_card(card)[0]["body"])
    assert "closes {{DATE(2031-02-04T11:05:00Z, SHORT)}} {{TIME(2031-02-04T11:05:00Z)}}" in teams
    assert "12:05 Europe/Berlin" not in teams


def test_a_moment_in_the_same_line_as_customer_text_leaves_that_text_inert() -> None:
    forged = "{{DATE(2020-01-01T00:00:00Z, SHORT)}}"  # Teams would show its own date in any TextBlock
    card = Card("x", (Context((f"**not bold** <@U1> {forged}", When("closed", DEADLINE))),))
    (block,) = slack_card(card).blocks
    customer, moment = (e["text"] for e in block["elements"])
    assert customer == mrkdwn(f"**not bold** <@U1> {forged}") and "&lt;@U1&gt;" in customer
    assert moment.startswith(f"<!date^{int(DEADLINE.timestamp())}^closed {{date_short_pretty}}")
    (teams,) = teams_card(card)
    shown = teams["body"][0]["text"]
    assert shown.startswith(escape_markdown(f"**not bold** <@U1> {forged}") + " · closed {{DATE(2031-02-04T11:05")
    assert shown.count("{{") == 2 and "{{DATE(2020" not in shown  # only the adaptor's own DATE and TIME
    assert shown.replace(WORD_JOINER, "").startswith(f"\\*\\*not bold\\*\\* <@U1> {forged}")


def test_a_lead_cannot_break_out_of_slacks_date_token() -> None:
    """The lead sits inside the token's format, where `^` and `|` would end it and `{time}` would be filled in."""
    token = slack_card(Card("x", (Context((When("due ^1|x> {time}", DEADLINE),)),))).blocks[0]["elements"][0]["text"]
    head, fallback = token.split("|", 1)
    assert head.count("^") == 2 and head.endswith("{date_short_pretty} at {time}") and "{time} " not in head
    assert fallback == "due ^1|x&gt; {time} Tue 04 Feb 11:05 UTC>" and token.count(">") == 1


async def test_runs_are_numbered_within_their_pulse(harness: CoreHarness) -> None:
    """Was: the second pulse's second run said "run #3" (the global run id)."""
    await command(harness, '"Coffee?" yesno named')  # pulse 1, run id 1
    await command(harness, '"Energy?" yesno every:fri@16:00 tz:Europe/Berlin named')
    pulses = harness.features.pulses.pulses
    first = await pulses.open_run(2, datetime(2026, 11, 13, 15, tzinfo=UTC))
    assert first is not None and await pulses.close(first.id or 0)
    second = await pulses.open_run(2, datetime(2026, 11, 20, 15, tzinfo=UTC))
    assert second is not None and second.id == 3
    shown = str((await command(harness, "results 2")).private_cards[-1].blocks)
    assert "pulse #2 · run #2" in shown and "run #3" not in shown
    assert "pulse #1 · run #1" in str((await command(harness, "results 1")).private_cards[-1].blocks)


async def form_zone(harness: CoreHarness, actor: Person) -> str | tuple[str, ...] | None:
    responder = RecordingResponder()
    await harness.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=actor,
                                           channel_id="C1", command="pulse", text=""), responder)
    (form,) = responder.forms
    return next(i.initial for i in form.inputs if i.name == "tz")


async def test_the_form_starts_in_the_askers_own_timezone(harness: CoreHarness) -> None:
    """Was: always the deployment's zone (UTC), whatever the manager's own."""
    await harness.grant("boss2", "manager")
    await harness.grant("boss3", "manager")
    async with harness.db.session() as session:
        session.add(PersonRow(platform="test", user_id="boss", timezone="Asia/Tokyo"))
        session.add(PersonRow(platform="test", user_id="boss3", timezone="Mars/Olympus_Mons"))
        await session.commit()
    assert await form_zone(harness, Person("test", "boss")) == "Asia/Tokyo"  # as Earshot has seen them
    told = Person("test", "boss", timezone="America/Sao_Paulo")  # as the platform says with the event
    assert await form_zone(harness, told) == "America/Sao_Paulo"
    assert await form_zone(harness, Person("test", "boss2")) == "UTC"  # nobody says: the deployment's
    assert await form_zone(harness, Person("test", "boss3")) == "UTC"  # a zone this machine doesn't know


def test_tally_bars_line_up_whatever_the_labels_script() -> None:
    """Was: `label  bar`, so each bar started where its label ended: never in line with emoji, CJK or Arabic."""
    question = Question(id=1, pulse_id=1, position=0, kind="single", prompt="Drink?",
                        options=["茶", "Coffee with milk", "قهوة", "☕"])
    lines = bars(QuestionResult(question, {"0": 3, "1": 1, "3": 2}, answered=6))
    assert [line[:10] for line in lines] == ["█████░░░░░", "██░░░░░░░░", "░░░░░░░░░░", "███░░░░░░░"]
    assert [line[10:12] for line in lines] == ["  "] * 4  # every label starts in the same column
    assert [line[12:].split("  ")[0] for line in lines] == ["茶", "Coffee with milk", "قهوة", "☕"]
    assert lines[0].endswith("50% (3)") and lines[2].endswith("0% (0)")


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_an_export_has_a_numeric_score_beside_each_answer(harness: CoreHarness) -> None:
    """Was: only `4 🙂` or `👍 Yes`, which a spreadsheet can't average."""
    await command(harness, "template wellbeing named")
    feeling, support = dict.fromkeys(a for a, _, _ in buttons(await launched_card(harness)) if ":vote:" in a)
    for user, score, yes in (("u1", "4", "yes"), ("u2", "2", "no")):
        await vote(harness, user, feeling, score)
        await vote(harness, user, support, yes)
    rows = rows_of(await exported_csv(harness))
    assert [(r["answer"], r["score"]) for r in rows] == [("4 🙂", "4"), ("👍 Yes", "1"), ("2 🙁", "2"),
                                                         ("👎 No", "0")]


async def test_a_named_export_lists_people_by_name_then_question(harness: CoreHarness) -> None:
    """Was: rows in the order of their random ids, a different shuffle in every export."""
    names = {"u1": "zoë", "u2": "Ana", "u3": "Émile", "u4": "bruno"}
    async with harness.db.session() as session:
        session.add_all(PersonRow(platform="test", user_id=u, display_name=n) for u, n in names.items())
        await session.commit()
    await command(harness, "template wellbeing named")
    feeling, support = dict.fromkeys(a for a, _, _ in buttons(await launched_card(harness)) if ":vote:" in a)
    for user in ("u5", *names):  # u5 has no name Earshot knows: listed by id
        await vote(harness, user, support, "yes")
        await vote(harness, user, feeling, "3")
    exports = [rows_of(await exported_csv(harness)) for _ in range(2)]
    assert exports[0] == exports[1]
    assert [(r["name"], r["question"][:3]) for r in exports[0]] == [
        (name, prompt) for name in ("Ana", "bruno", "Émile", "zoë", "") for prompt in ("How", "Do ")]
