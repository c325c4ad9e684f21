"""What a pulse is before it is stored: built by the one-line syntax, the creation form or a template."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.commands import UsageError
from bot.pulses.questions import KIND_WORDS, MAX_OPTIONS, MAX_QUESTIONS, QuestionSpec
from bot.pulses.schedule import parse_duration, parse_every
from bot.pulses.templates import TEMPLATES

ONE_LINE_HELP = (
    '/pulse "How was this week?" scale:1-5 to:#team anonymous close:2d every:fri@16:00\n'
    "  kinds: scale (1–5), enps (0–10), yesno, text, choices:\"A, B, C\", multi:\"A, B, C\"\n"
    "  to: here (default) · dm (a DM to each member of this channel) · #channel · @person,@person\n"
    "  anonymous · live (default) or at-close · close:2d · remind:4h · comment (adds a comment box) · share "
    "(results to the channel at close)\n"
    "  every:fri@16:00 · every:weekdays@09:00 · every:2w:mon@10:00 · every:month:1@09:00 · tz:Europe/Berlin · "
    "local (each person's own time)"
)
FLAGS = ("anonymous", "anon", "named", "live", "at-close", "comment", "share", "local", "enps", "yesno", "text",
         "scale")
KEYS = ("scale", "choices", "choice", "multi", "to", "close", "remind", "every", "tz", "template")
MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>|@([\w.\-:]+)")
CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|[^>]*)?>|#([\w\-]+)")


@dataclass
class PulseSpec:
    title: str
    questions: list[QuestionSpec]
    audience: dict[str, Any]
    anonymous: bool = False
    results_live: bool = True
    close_after: int | None = None
    remind_after: int | None = None
    recurrence: dict[str, Any] | None = None
    timezone: str = "UTC"
    local_time: bool = False
    share_results: bool = False


def parse_one_line(words: list[str], channel_id: str, default_tz: str, today: date) -> PulseSpec:
    """`"How was this week?" scale:1-5 to:#team anonymous close:2d every:fri@16:00` → PulseSpec."""
    spec = PulseSpec(title="", questions=[], audience={"kind": "channel", "channel_id": channel_id},
                     timezone=default_tz)
    prompt_words: list[str] = []
    kind, options, allow_comment = "scale", (), False
    for word in words:
        key, sep, value = word.partition(":")
        lowered = key.lower()
        if not sep and lowered in FLAGS:
            if lowered in ("anonymous", "anon"):
                spec.anonymous = True
            elif lowered == "named":
                spec.anonymous = False
            elif lowered == "live":
                spec.results_live = True
            elif lowered == "at-close":
                spec.results_live = False
            elif lowered == "comment":
                allow_comment = True
            elif lowered == "share":
                spec.share_results = True
            elif lowered == "local":
                spec.local_time = True
            else:
                kind = lowered
            continue
        if not sep or (lowered not in KEYS and (key.startswith(("<", "@", "#")) or any(c.isspace() for c in word))):
            prompt_words.append(word)
            continue
        if lowered not in KEYS:
            close = difflib.get_close_matches(lowered, KEYS + FLAGS, n=1, cutoff=0.6)
            raise UsageError(f"I don't know “{key}:”." + (f" Did you mean {close[0]}?" if close else ""))
        if not value:
            raise UsageError(f"{lowered}: needs a value (see /pulse help)")
        match lowered:
            case "scale":
                if value not in ("1-5", "5"):
                    raise UsageError("scale: goes from 1 to 5 (scale:1-5); for 0–10 use enps")
                kind = "scale"
            case "choices" | "choice" | "multi":
                kind = "multi" if lowered == "multi" else "single"
                options = tuple(o.strip() for o in re.split(r"[,|]", value) if o.strip())
                if not 2 <= len(options) <= MAX_OPTIONS:
                    raise UsageError(f"{lowered}: needs 2 to {MAX_OPTIONS} options, separated by commas")
            case "to":
                spec.audience = audience(value, channel_id)
            case "close":
                spec.close_after = parse_duration(value)
            case "remind":
                spec.remind_after = parse_duration(value)
            case "every":
                spec.recurrence = parse_every(value, today)
            case "tz":
                spec.timezone = zone_name(value)
            case "template":
                raise UsageError("use /pulse template NAME to start from the question bank")
    prompt = " ".join(prompt_words).strip()
    if not prompt:
        raise UsageError('put the question in quotes first, like /pulse "How was this week?" scale:1-5')
    if len(prompt) > 300:
        raise UsageError("keep the question under 300 characters")
    if kind in ("single", "multi") and not options:
        raise UsageError('choices need options, like choices:"Pizza, Sushi, Salad"')
    spec.title = prompt
    spec.questions = [QuestionSpec(kind, prompt, options, allow_comment)]
    return finish(spec)


def audience(value: str, channel_id: str) -> dict[str, Any]:
    lowered = value.lower()
    if lowered in ("here", "channel"):
        return {"kind": "channel", "channel_id": channel_id}
    if lowered in ("dm", "dms", "members"):
        return {"kind": "dm", "channel_id": channel_id}
    channel = CHANNEL.fullmatch(value)
    if channel:
        return {"kind": "channel", "channel_id": channel.group(1) or channel.group(2)}
    users = [m.group(1) or m.group(2) for m in MENTION.finditer(value)]
    if users:
        return {"kind": "people", "users": list(dict.fromkeys(users))}
    raise UsageError(f"to:{value} — say to:here, to:dm, to:#channel or to:@person,@person")


def zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown timezone {value!r}; use a name like Europe/Berlin") from None
    return value


def from_template(name: str, words: list[str], channel_id: str, default_tz: str, today: date) -> PulseSpec:
    """A template's questions with the delivery options given after its name."""
    if name not in TEMPLATES:
        close = difflib.get_close_matches(name, list(TEMPLATES), n=1, cutoff=0.5)
        known = ", ".join(TEMPLATES)
        raise UsageError(f"no template “{name}”." + (f" Did you mean {close[0]}?" if close else "") +
                         f" The bank has: {known}")
    title, questions = TEMPLATES[name]
    options = parse_one_line(['"template"', *words], channel_id, default_tz, today)
    return finish(replace(options, title=title, questions=list(questions)))


def parse_question_lines(text: str) -> list[QuestionSpec]:
    """The creation form's questions, one per line: `kind: prompt | option, option`."""
    questions = []
    for number, line in enumerate((ln.strip() for ln in text.splitlines()), start=1):
        if not line:
            continue
        kind_word, sep, rest = line.partition(":")
        kind = KIND_WORDS.get(kind_word.strip().lower()) if sep else None
        if kind is None:
            kind, rest = "scale", line
        prompt, _, option_text = rest.partition("|")
        options = tuple(o.strip() for o in option_text.split(",") if o.strip())
        if not prompt.strip():
            raise UsageError(f"line {number} has no question")
        if kind in ("single", "multi") and not 2 <= len(options) <= MAX_OPTIONS:
            raise UsageError(f"line {number}: list 2 to {MAX_OPTIONS} options after “|”, separated by commas")
        questions.append(QuestionSpec(kind, prompt.strip()[:300], options))
    return questions


def finish(spec: PulseSpec) -> PulseSpec:
    if not spec.questions:
        raise UsageError("a pulse needs at least one question")
    if len(spec.questions) > MAX_QUESTIONS:
        raise UsageError(f"a pulse has at most {MAX_QUESTIONS} questions")
    if spec.local_time and spec.audience["kind"] == "channel":
        raise UsageError("local (each person's own time) needs DMs: add to:dm or to:@person")
    if spec.recurrence and spec.close_after is None:
        spec.close_after = 1440  # a recurring pulse closes a day later unless told otherwise
    return spec
