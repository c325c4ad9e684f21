"""The creation form (`/pulse` alone): one neutral form that Slack's modal, the Teams card and the sandbox all
render, and its submission read back into a PulseSpec with an error beside each field that needs one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from bot.cards import Form, FormErrors, Input, Option
from bot.commands import UsageError
from bot.pulses.questions import KIND_WORDS, MAX_OPTIONS, MAX_QUESTIONS, QuestionSpec
from bot.pulses.schedule import parse_duration, parse_every
from bot.pulses.spec import PulseSpec, SpecError, audience, finish, people, zone_name

FORM_ID = "pulse-new"
YES_NO = (Option("No", "no"), Option("Yes", "yes"))


def creation_form(channel_id: str, timezone: str) -> Form:
    """Every choice the one-line syntax offers, as fields."""
    return Form(form_id=FORM_ID, title="New pulse", submit_label="Launch", metadata=channel_id, inputs=(
        Input("title", "Title", placeholder="Friday check-in"),
        Input("questions", f"Questions, one per line (up to {MAX_QUESTIONS})", kind="textarea",
              placeholder="scale: How was this week?\nsingle: What helps most? | Focus time, Fewer meetings\n"
                          "yesno+comment: Do you have what you need?\ntext: Anything else?",
              hint="kinds: scale (1–5), enps (0–10), yesno, single, multi, text; options after “|”; "
                   "add +comment to the kind for an optional comment box."),
        Input("audience", "Who answers", kind="select", initial="channel", options=(
            Option("This channel", "channel"), Option("A DM to each member of this channel", "dm"),
            Option("A list of people (by DM)", "people"))),
        Input("people", "People", kind="people", required=False, placeholder="@ana, @ben",
              hint="for “a list of people”"),
        Input("anonymous", "Anonymous", kind="select", initial="yes", options=YES_NO),
        Input("results", "Results", kind="select", initial="live", options=(
            Option("Live", "live"), Option("At close", "close"))),
        Input("share", "Share the results in this channel at close", kind="select", initial="no", options=YES_NO),
        Input("close", "Close after", required=False, placeholder="2d",
              hint="30m, 4h, 2d or 1w; empty = close it yourself"),
        Input("remind", "Remind those who haven't answered after", required=False, placeholder="4h",
              hint="30m, 4h or 1d; empty = no reminder"),
        Input("every", "Repeat", required=False, placeholder="fri@16:00",
              hint="empty = once; fri@16:00, weekdays@09:00, 2w:mon@10:00, month:1@09:00"),
        Input("when", "Repeat at", kind="select", initial="zone", options=(
            Option("That time in the timezone below", "zone"),
            Option("That time in each person's own timezone (DMs)", "local"))),
        Input("tz", "Timezone", required=False, initial=timezone),
    ))


def spec_from_form(values: Mapping[str, str | tuple[str, ...]], channel_id: str, timezone: str,
                   today: date) -> tuple[PulseSpec, FormErrors]:
    """The submitted fields as a PulseSpec, and what is wrong with them by field (empty when nothing is)."""
    text = {k: (v if isinstance(v, str) else ",".join(v)).strip() for k, v in values.items()}
    spec = PulseSpec(title=text.get("title", "")[:300], questions=[],
                     audience={"kind": "channel", "channel_id": channel_id},
                     anonymous=text.get("anonymous", "yes") == "yes", results_live=text.get("results") != "close",
                     timezone=timezone, share_results=text.get("share") == "yes",
                     local_time=text.get("when") == "local")
    errors: FormErrors = {}

    def field(name: str, apply: Callable[[str], None]) -> None:
        try:
            apply(text.get(name, ""))
        except UsageError as error:
            errors[name] = str(error)

    field("questions", lambda v: setattr(spec, "questions", parse_question_lines(v)))
    if text.get("audience") == "people":
        field("people", lambda v: setattr(spec, "audience", people(v)))
    else:
        field("audience", lambda v: setattr(spec, "audience", audience(v or "channel", channel_id)))
    field("close", lambda v: setattr(spec, "close_after", parse_duration(v, "close") if v else None))
    field("remind", lambda v: setattr(spec, "remind_after", parse_duration(v, "remind") if v else None))
    field("every", lambda v: setattr(spec, "recurrence", parse_every(v, today) if v else None))
    field("tz", lambda v: setattr(spec, "timezone", zone_name(v) if v else timezone))
    if not spec.title:
        errors["title"] = "Give the pulse a title."
    if not errors:
        try:
            finish(spec)
        except SpecError as error:
            errors[error.field] = str(error)
    return spec, errors


def parse_question_lines(text: str) -> list[QuestionSpec]:
    """The form's questions, one per line: `kind: prompt | option, option`, `kind+comment:` for a comment box."""
    questions = []
    for number, line in enumerate((ln.strip() for ln in text.splitlines()), start=1):
        if not line:
            continue
        head, sep, rest = line.partition(":")
        kind_word, _, extra = head.strip().lower().partition("+")
        kind = KIND_WORDS.get(kind_word.strip()) if sep else None
        if kind is None:
            kind, rest, extra = "scale", line, ""
        if extra.strip() not in ("", "comment"):
            raise UsageError(f"line {number}: after “+” only comment is known, like {kind_word}+comment:")
        prompt, _, option_text = rest.partition("|")
        options = tuple(o.strip() for o in option_text.split(",") if o.strip())
        if not prompt.strip():
            raise UsageError(f"line {number} has no question")
        if kind in ("single", "multi") and not 2 <= len(options) <= MAX_OPTIONS:
            raise UsageError(f"line {number}: list 2 to {MAX_OPTIONS} options after “|”, separated by commas")
        questions.append(QuestionSpec(kind, prompt.strip()[:300], options, allow_comment=bool(extra.strip())))
    return questions
