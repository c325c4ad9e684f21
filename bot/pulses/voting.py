"""Answering: buttons, choices and forms. One answer per person per question by unique keys; anonymous
answers are stored without a person and are final; answers after close are refused politely."""

from __future__ import annotations

from bot.adapter import Responder
from bot.cards import Card, Context, Form, FormErrors, Input, Option, Text
from bot.commands import error_card
from bot.core import Services
from bot.events import ActionEvent, Event, FormSubmitted
from bot.pulses.ballots import Ballot, BallotBox
from bot.pulses.questions import answer_options, label_of
from bot.pulses.service import Pulses
from bot.text import clean
from storage.tables import PulseRun, Question

COMMENT_LIMIT = 1_000


class Voting:
    def __init__(self, services: Services, pulses: Pulses) -> None:
        self._services = services
        self._pulses = pulses
        self._ballots = BallotBox(services.db, lambda: services.clock().date())

    async def on_action(self, event: ActionEvent, responder: Responder) -> None:
        parts = event.action_id.split(":")
        if len(parts) != 4 or not (parts[2].isdigit() and parts[3].isdigit()):
            await responder.private(error_card("That button no longer does anything."))
            return
        kind, run_id, question_id = parts[1], int(parts[2]), int(parts[3])
        if kind == "vote":
            value = ",".join(sorted(event.value, key=lambda v: (len(v), v))) if isinstance(event.value, tuple) \
                else event.value  # option indexes in order: "2,10", not "10,2"
            reply, _ = await self.answer(event, run_id, question_id, value, None)
            await responder.private(reply)
        elif kind in ("text", "comment"):
            await self._open_form(kind, run_id, question_id, responder)
        else:
            await responder.private(error_card("That button no longer does anything."))

    async def _open_form(self, kind: str, run_id: int, question_id: int, responder: Responder) -> None:
        async with self._services.db.session() as session:
            question = await session.get(Question, question_id)
            run = await session.get(PulseRun, run_id)
        if question is None or run is None:
            await responder.private(error_card("I can't find that pulse any more."))
            return
        if run.status == "closed":
            await responder.private(error_card("This pulse has closed; answers are no longer taken."))
            return
        inputs = []
        if kind == "comment":
            inputs.append(Input("answer", question.prompt, kind="select", options=tuple(
                Option(label, value) for label, value in answer_options(question.kind, question.options))))
        inputs.append(Input("comment", "Your words" if kind == "text" else "Comment (optional)", kind="textarea",
                            required=kind == "text", hint=f"Up to {COMMENT_LIMIT} characters."))
        await responder.open_form(Form(form_id=f"pulse-answer:{run_id}:{question_id}", title="Your answer",
                                       inputs=tuple(inputs), submit_label="Send"))

    async def on_form(self, event: FormSubmitted, responder: Responder) -> FormErrors | None:
        _, run_text, question_text = [*event.form_id.split(":"), "", ""][:3]
        if not (run_text.isdigit() and question_text.isdigit()):
            return {"_": "This form has expired; please open it again."}
        comment_raw = event.values.get("comment", "")
        comment = clean(comment_raw if isinstance(comment_raw, str) else " ".join(comment_raw)) or None
        answer_raw = event.values.get("answer", "text")
        answer = answer_raw if isinstance(answer_raw, str) else ",".join(answer_raw)
        if comment and len(comment) > COMMENT_LIMIT:
            return {"comment": f"Keep it under {COMMENT_LIMIT} characters ({len(comment)} now)."}
        if "answer" not in event.values and not comment:
            return {"comment": "Write a few words, or cancel."}
        reply, refusal = await self.answer(event, int(run_text), int(question_text), answer, comment)
        if refusal:
            return {"answer" if "answer" in event.values else "comment": refusal}
        await responder.private(reply)
        return None

    async def answer(self, event: Event, run_id: int, question_id: int, value: str,
                     comment: str | None) -> tuple[Card, str | None]:
        """Store one answer; returns the private reply (thanks, or a polite refusal) and the refusal's words."""
        refusal, question, anonymous = await self._store(event, run_id, question_id, value, comment)
        if refusal:
            return error_card(refusal), refusal
        self._pulses.refresh_soon(run_id)
        return thanks(question, value, anonymous), None

    async def _store(self, event: Event, run_id: int, question_id: int, value: str,
                     comment: str | None) -> tuple[str | None, Question | None, bool]:
        meta = await self._ballots.meta(run_id, question_id)
        if meta is None:
            return "I can't find that pulse any more.", None, False
        refusal = self._ballots.check(meta, event.platform, value) or await self._ballots.cast(Ballot(
            run_id, question_id, event.platform, event.actor.user_id, value, comment, meta.anonymous))
        return refusal, meta.question, meta.anonymous


def thanks(question: Question | None, value: str, anonymous: bool) -> Card:
    if anonymous:
        return Card(fallback="Your anonymous answer is in. Thank you!", blocks=(
            Text("✅ Your anonymous answer is in. Thank you!"),
            Context(("Nothing links it to you; that is also why it can't be changed.",))))
    label = "your words" if question is None or question.kind == "text" else label_of(
        question.kind, question.options, value)
    return Card(fallback=f"Recorded: {label}", blocks=(
        Text(f"✅ Recorded: {label}"), Context(("You can change it until the pulse closes.",))))
