"""Answering: buttons, choices and forms. One answer per person per question by unique keys; anonymous
answers are stored without a person and are final; answers after close are refused politely."""

from __future__ import annotations

from bot.adapter import Responder
from bot.cards import Card, Context, Form, FormErrors, Input, Option, Text
from bot.commands import error_card, record_id
from bot.core import Services
from bot.events import ActionEvent, Event, FormSubmitted
from bot.pulses.audience import Members, may_answer
from bot.pulses.ballots import Ballot, BallotBox, Meta
from bot.pulses.questions import COMMENT_LIMIT, answer_options, label_of
from bot.pulses.sealing import Sealer
from bot.pulses.service import Pulses
from bot.text import clean
from storage.tables import PulseRun, Question

NOT_YOURS = ("This pulse was sent to other people, so I can't take an answer from you. If you think it should "
             "have come to you, ask the person who sent it.")


class Voting:
    def __init__(self, services: Services, pulses: Pulses, members: Members) -> None:
        self._services = services
        self._pulses = pulses
        self._members = members
        self._ballots = BallotBox(services.db, lambda: services.clock().date())
        self._sealer = Sealer(services.keys)

    async def on_action(self, event: ActionEvent, responder: Responder) -> None:
        parts = event.action_id.split(":")
        run_id, question_id = _ids(parts[2], parts[3]) if len(parts) == 4 else (None, None)
        if run_id is None or question_id is None:
            await responder.private(error_card("That button no longer does anything."))
            return
        kind = parts[1]
        if kind == "vote" and event.value in ((), ""):  # a multi-select emptied again, sent as a choice
            await responder.private(error_card("Pick at least one answer."))
        elif kind == "vote":
            value = ",".join(sorted(event.value, key=lambda v: (len(v), v))) if isinstance(event.value, tuple) \
                else event.value  # option indexes in order: "2,10", not "10,2"
            reply, _ = await self.answer(event, run_id, question_id, value, None)
            await responder.private(reply)
        elif kind in ("text", "comment"):
            await self._open_form(event, kind, run_id, question_id, responder)
        else:
            await responder.private(error_card("That button no longer does anything."))

    async def _open_form(self, event: ActionEvent, kind: str, run_id: int, question_id: int,
                         responder: Responder) -> None:
        meta = await self._ballots.meta(run_id, question_id)
        async with self._services.db.session() as session:
            run = await session.get(PulseRun, run_id)
        if meta is None or run is None:
            await responder.private(error_card("I can't find that pulse any more."))
            return
        if run.status == "closed":
            await responder.private(error_card("This pulse has closed; answers are no longer taken."))
            return
        refusal = self._ballots.check(meta, event.platform, None) or await self._outsider(meta, run_id, event)
        if refusal:
            await responder.private(error_card(refusal))
            return
        question = meta.question
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
        run_id, question_id = _ids(run_text, question_text)
        if run_id is None or question_id is None:
            return {"_": "This form has expired; please open it again."}
        comment_raw = event.values.get("comment", "")
        comment = clean(comment_raw if isinstance(comment_raw, str) else " ".join(comment_raw)) or None
        answer_raw = event.values.get("answer", "text")
        answer = answer_raw if isinstance(answer_raw, str) else ",".join(answer_raw)
        if comment and len(comment) > COMMENT_LIMIT:
            return {"comment": f"Keep it under {COMMENT_LIMIT} characters ({len(comment)} now)."}
        if "answer" not in event.values and not comment:
            return {"comment": "Write a few words, or cancel."}
        reply, refusal = await self.answer(event, run_id, question_id, answer, comment)
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
        refusal = (self._ballots.check(meta, event.platform, value, comment)
                   or await self._outsider(meta, run_id, event)
                   or await self._ballots.cast(Ballot(
                       run_id, question_id, event.platform, event.actor.user_id, value, comment,
                       self._sealer.seal(meta.question, value, comment) if meta.anonymous else None)))
        return refusal, meta.question, meta.anonymous

    async def _outsider(self, meta: Meta, run_id: int, event: Event) -> str | None:
        """Why this person may not answer, when they are not in the run's audience: the button or form came
        from a client, which may send any run and any person."""
        async with self._services.db.session() as session:
            allowed = await may_answer(session, self._members, meta.platform, meta.audience, run_id,
                                       event.actor.user_id)
        if allowed is None:
            return (f"I couldn't check with {event.platform.title()} that this pulse is for you just now, so your "
                    "answer isn't stored. Please try again in a minute.")
        return None if allowed else NOT_YOURS


def _ids(run: str, question: str) -> tuple[int | None, int | None]:
    """The run and question ids in a button's or form's id, None where one can't be a row id."""
    return record_id(run), record_id(question)


def thanks(question: Question | None, value: str, anonymous: bool) -> Card:
    if anonymous:
        return Card(fallback="Your anonymous answer is in. Thank you!", blocks=(
            Text("✅ Your anonymous answer is in. Thank you!"),
            Context(("It is sealed, and joins the results only with others' answers, so nothing links it to you; "
                     "that is also why it can't be changed.",))))
    label = "your words" if question is None or question.kind == "text" else label_of(
        question.kind, question.options, value)
    return Card(fallback=f"Recorded: {label}", blocks=(
        Text(f"✅ Recorded: {label}"), Context(("You can change it until the pulse closes.",))))
