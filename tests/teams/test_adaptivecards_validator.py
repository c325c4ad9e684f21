"""Every card Earshot sends to Teams passes Microsoft's own Adaptive Cards renderer (npm `adaptivecards`, run by
Node under jsdom, tests/teams/validator): no parse or validation event, and it renders. The cards are what the
features really build, collected by driving them through the core (pulses of every question kind, answered,
closed, charted and exported; stations, their quotes and roll-ups; the digest preview; help and errors; forms
with and without people), then rendered for Teams as the adapter does.

Locally the test is skipped without `npm ci` in tests/teams/validator; CI (.ci/run) requires it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from adapters.teams.render import CONTINUED, render_card, render_form, submitted_card
from bot.cards import Buttons, Card, Choices, File, Form, Image, text_card
from bot.charts import chart_id, load_chart
from bot.commands import error_card
from bot.events import ActionEvent, CommandEvent, FormSubmitted, MembersAdded, MessageRef, Person
from storage.engine import Database
from storage.tables import StationItem
from tests.digests.seed import SETTINGS, seed
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

VALIDATOR = Path(__file__).parent / "validator"
REQUIRED = "required" in (os.environ.get("EARSHOT_TEST_NODE"), os.environ.get("EARSHOT_TEST_BROWSER"))
MEMBERS = [f"u{n}" for n in range(8)]
FRIDAY = datetime(2026, 11, 20, 12, tzinfo=UTC)  # in the digest world's week 2026-W47
ITEMS = [
    {"id": "v1", "source": "nps-survey", "text": "Checkout is slow " * 60, "score": 2, "score_type": "nps",
     "product_area": "checkout", "language": "en"},
    {"id": "v2", "source": "helpdesk", "text": "Обслуживание ужасное, refund please", "score": 1,
     "score_type": "csat", "language": "ru", "customer": {"segment": "enterprise"}},
    {"id": "v3", "source": "appstore", "text": "پرداخت خطا می‌دهد", "score": 3, "score_type": "rating",
     "product_area": "checkout", "language": "fa-IR"},
    {"id": "v4", "source": "nps-survey", "text": "Love it <at>x</at> **bold** [link](https://evil.example)",
     "score": 10, "score_type": "nps", "product_area": "reports", "language": "en"},
]
PULSES = ('"Energy?" scale comment anonymous', '"Which days?" multi:"Mon, Tue, Wed"',
          '"Pick one?" choices:"Tea, Coffee, Water"', '"Recommend working here?" enps',
          '"Lunch together on Friday?" yesno close:2d', '"Anything else?" text named', "template wellbeing anonymous")
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def validator() -> list[str]:
    node = shutil.which("node")
    missing = [name for name in ("adaptivecards", "jsdom") if not (VALIDATOR / "node_modules" / name).is_dir()]
    if node is None or missing:
        reason = ("Node is not installed" if node is None else
                  f"run `npm ci` in {VALIDATOR} first (missing {', '.join(missing)})")
        if REQUIRED:
            pytest.fail(f"the Adaptive Cards validator can't run: {reason}")
        pytest.skip(f"the Adaptive Cards validator can't run: {reason}")
    return [node, str(VALIDATOR / "validate.js")]


def problems(cards: dict[str, dict[str, Any]], tmp_path: Path) -> dict[str, list[str]]:
    """What Microsoft's renderer says about each card, by name (only those it refuses)."""
    path = tmp_path / f"cards-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(cards, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([*validator(), str(path)], capture_output=True, text=True, timeout=300, check=False)
    try:
        found: dict[str, list[str]] = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"the validator failed (exit {done.returncode}): {done.stderr[-2000:]}") from None
    assert (done.returncode == 0) == (not found), done.stderr[-2000:]
    return found


def test_the_renderer_refuses_what_teams_would_refuse(tmp_path: Path) -> None:
    """The validator can fail: an empty choice list (issue 14, point 8) and an unknown element are reported."""
    empty = {"type": "AdaptiveCard", "version": "1.5", "body": [
        {"type": "Input.ChoiceSet", "id": "people", "choices": []}]}
    unknown = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Input.Teleport", "id": "x"}]}
    good = render_card(text_card("Fine"))[0]
    found = problems({"empty": empty, "unknown": unknown, "good": good}, tmp_path)
    assert set(found) == {"empty", "unknown"}
    assert any("CollectionCantBeEmpty" in problem for problem in found["empty"])


class Scenario:
    """The core over the digest world, with a recording adapter: every card and form it produces is kept."""

    def __init__(self, harness: CoreHarness) -> None:
        self.h = harness
        self.responders: list[RecordingResponder] = []

    async def command(self, command: str, text: str, user: str = "boss", channel: str | None = "C1") -> \
            RecordingResponder:
        responder = RecordingResponder()
        self.responders.append(responder)
        await self.h.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex,
                                              actor=Person("test", user, user.title()), channel_id=channel,
                                              command=command, text=text), responder)
        return responder

    async def press(self, user: str, action_id: str, value: str | tuple[str, ...]) -> RecordingResponder:
        responder = RecordingResponder()
        self.responders.append(responder)
        await self.h.core.handle(ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                                             channel_id="C1", action_id=action_id, value=value,
                                             message=MessageRef("test", "C1", "m1")), responder)
        return responder

    async def fill(self, user: str, form: Form) -> None:
        values: dict[str, str | tuple[str, ...]] = {}
        for field in form.inputs:
            if field.options:
                values[field.name] = field.options[-1].value
            elif field.kind == "number":
                values[field.name] = "4"
            else:
                values[field.name] = f"note from {user}"
        await self.h.core.handle(FormSubmitted(platform="test", event_id=uuid.uuid4().hex,
                                               actor=Person("test", user), channel_id=None, form_id=form.form_id,
                                               values=values, metadata=form.metadata), RecordingResponder())

    async def answer_everything(self, card: Card) -> None:
        """Every member presses every answer of a pulse card (and fills in what opens a form)."""
        for user in MEMBERS[1:7]:
            for block in card.blocks:
                if isinstance(block, Buttons):
                    for button in block.buttons:
                        if button.action_id.startswith("pulse:"):
                            for form in (await self.press(user, button.action_id, button.value)).forms:
                                await self.fill(user, form)
                elif isinstance(block, Choices):
                    picked: str | tuple[str, ...] = tuple(o.value for o in block.options[:2]) if block.multi \
                        else block.options[0].value
                    await self.press(user, block.action_id, picked)

    def cards(self) -> list[Card]:
        adapter = self.h.adapter
        return [*(s.card for s in adapter.sent), *(card for _, card in adapter.updates),
                *(card for _, _, card in adapter.ephemeral), *(c for r in self.responders for c in r.private_cards)]

    def forms(self) -> list[Form]:
        return [form for r in self.responders for form in r.forms]


async def play(harness: CoreHarness) -> Scenario:
    s = Scenario(harness)
    h = harness
    h.adapter.members.update({"C1": list(MEMBERS), "C-cx": list(MEMBERS)})
    for user, role in (("boss", "manager"), ("hr", "hr"), ("root", "admin")):
        await h.grant(user, role)
    h.core.services.clock = lambda: FRIDAY
    await h.core.handle(MembersAdded(platform="test", event_id="installed", actor=Person("test", "boss"),
                                     channel_id="C1", bot_installed=True), RecordingResponder())
    for command in ("pulse", "station", "digest"):
        await s.command(command, "help")
        await s.command(command, "frobnicate")
    await s.command("pulse", "")  # the creation form
    await s.command("pulse", "templates")
    await s.command("pulse", '"Q?" yesno text')  # a usage error
    for spec in PULSES:
        before = len(h.adapter.sent)
        await s.command("pulse", spec)
        await h.deliver()
        for sent in h.adapter.sent[before:]:
            if sent.card.fallback.startswith("Pulse:"):
                await s.answer_everything(sent.card)
        await h.deliver()
    await s.command("pulse", "list")
    for number in range(1, len(PULSES) + 1):
        await s.command("pulse", f"results {number}")
        await s.command("pulse", f"close {number}")
        await s.command("pulse", f"results {number}")
    await s.command("pulse", "export 1")
    await s.command("pulse", "export 6")
    await s.command("station", "add all cap:2", channel="C-cx")
    await s.command("station", "list", channel="C-cx")
    await s.command("station", "preview", channel="C-cx")
    await h.features.stations.ingest.ingest(ITEMS)
    await h.deliver()
    async with h.db.session() as session:  # an hour on: what the cap held back goes out as a roll-up
        for item in await session.exec(select(StationItem)):
            item.routed_at -= timedelta(hours=2)
            session.add(item)
        await session.commit()
    await h.features.stations.release_rollups()
    await s.command("digest", "preview", user="root", channel="C-hr")
    await s.command("digest", "subscribe monday 09:00 UTC", user="hr", channel="C-hr")
    await h.deliver()
    return s


async def teams_cards(s: Scenario) -> dict[str, dict[str, Any]]:
    """Each card and form as the Teams adapter renders it: charts inlined, files offered in a 1:1 chat or not,
    forms with the conversation's members, with none, and with errors."""
    rendered: dict[str, dict[str, Any]] = {}
    for n, card in enumerate(s.cards()):
        charts: dict[str, bytes] = {}
        for block in card.blocks:
            if isinstance(block, Image) and chart_id(block.url) is not None:
                png = await load_chart(s.h.db, block.url)
                if png is not None:
                    charts[block.url] = png
        files = {block.url for block in card.blocks if isinstance(block, File)}
        for offered in ({(), frozenset(files)} if files else {()}):
            for part, teams_card in enumerate(render_card(card, charts, offered=offered)):
                rendered[f"{n:03d}.{part} {'offered ' if offered else ''}{card.fallback[:50]}"] = teams_card
    people = [Person("teams", f"29:{n}", name) for n, name in enumerate(("Ana Souza", "Ben", "田中 芽衣"))]
    for n, form in enumerate(s.forms()):
        rendered[f"form {n} {form.title}"] = render_form(form)
        rendered[f"form {n} {form.title} with people"] = render_form(form, people=people)
        first = form.inputs[0].name if form.inputs else "_"
        rendered[f"form {n} {form.title} with errors"] = render_form(form, {first: "Please fill this in"}, people)
    rendered["submitted"] = submitted_card("New pulse")
    rendered["error"] = render_card(error_card("Something went wrong"))[0]
    for part, teams_card in enumerate(render_card(text_card("Lorem ipsum dolor sit amet. " * 3_000))):
        rendered[f"long text {part}"] = teams_card
    return rendered


@sqlite_only
async def test_every_card_earshot_builds_for_teams_passes_microsofts_renderer(db: Database, tmp_path: Path) -> None:
    validator()  # skip early, before the scenario, where the renderer can't run
    await seed(db)
    scenario = await play(make_harness(db, **SETTINGS))
    cards = await teams_cards(scenario)
    text = json.dumps(cards, ensure_ascii=False)
    elements = {"Image", "Input.ChoiceSet", "Input.Text", "Action.Execute", "Action.ToggleVisibility", "FactSet",
                "Container", "Data.Query"}  # everything render.py emits: the scenario reaches all of it
    assert [e for e in elements if f'"type": "{e}"' not in text] == []
    assert [e for e in ("data:image/png;base64,", "📎", "more pieces of customer feedback", "2026-W47", "eNPS",
                        "New pulse", CONTINUED) if e not in text] == []
    assert len(cards) > 60
    assert problems(cards, tmp_path) == {}
