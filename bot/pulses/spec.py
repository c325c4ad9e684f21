"""What a pulse is before it is stored: built by the one-line syntax, the creation form or a template."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.commands import UsageError, split_words
from bot.pulses.questions import MAX_OPTIONS, MAX_QUESTIONS, QuestionSpec
from bot.pulses.schedule import parse_duration, parse_every
from bot.pulses.templates import TEMPLATES
from bot.text import straight_quotes

ONE_LINE_HELP = (
    "/pulse on its own opens a form that asks for everything, step by step; or write it on one line:\n"
    '/pulse "How was this week?" scale:1-5 to:#team anonymous close:2d every:fri@16:00\n'
    "  the question comes first, in quotes; every word after it must be one of these options (a word I don't "
    "know is refused with a suggestion, never added to the question)\n"
    "  kinds: scale (1–5), enps (0–10), yesno, text, choices:\"A, B, C\", multi:\"A, B, C\"\n"
    "  to: here (default) · dm (a DM to each member of this channel) · #channel · @person,@person\n"
    "  anonymous (default) or named (the author and HR see who answered what) · live (default) or at-close · "
    "close:2d · remind:4h · comment (adds a comment box) · share (results to the channel at close)\n"
    "  every:fri@16:00 · every:weekdays@09:00 · every:2w:mon@10:00 · every:month:1@09:00 · tz:Europe/Berlin · "
    "local (each person's own time, with every:)"
)
FLAGS = ("anonymous", "anon", "named", "live", "at-close", "comment", "share", "local", "enps", "yesno", "text",
         "scale")
KEYS = ("scale", "choices", "choice", "multi", "to", "close", "remind", "every", "tz", "template")
EXAMPLES = {"scale": "scale:1-5", "choices": 'choices:"A, B"', "choice": 'choices:"A, B"', "multi": 'multi:"A, B"',
            "to": "to:#team", "close": "close:2d", "remind": "remind:4h", "every": "every:fri@16:00",
            "tz": "tz:Europe/Berlin", "template": "/pulse template enps"}
QUOTE_FIRST = 'put the question in quotes first, like /pulse "How was this week?" scale:1-5'
MENTION = re.compile(r"<@([^|<>\s]+)(?:\|[^>]*)?>|@([\w.\-:]+)")
CHANNEL = re.compile(r"<#([^|<>\s]+)(?:\|[^>]*)?>|#([\w\-]+)")
"""Mentions and channels as platforms send them (`<@U…|ana>` from Slack, `<@29:…|Ana>` from Teams) or typed."""
MAX_PEOPLE = 200
"""People a pulse lists by name (each gets a DM); more is a channel's job (to:#team or to:dm)."""
QUOTED_PARTS = re.compile(r"""(?:"(?:\\.|[^"\\])*"|'[^']*'|\\.)""")
"""Quoted strings and escaped characters: what they hold is words of a question, never an option (adapters that
rewrite options, such as the sandbox's `to:#name`, leave them alone)."""
_TOKEN = re.compile(rf"""(?:{QUOTED_PARTS.pattern}|[^\s"'\\])+""")
_QUOTED = re.compile(r""""(?:\\.|[^"\\])*"|'[^']*'""")
_KEY_SHAPED = re.compile(r"([a-z][a-z\-]*):(.*)", re.DOTALL)
_PLAIN_WORD = re.compile(r"[a-z][a-z\-]*")
_PULSE_ID = re.compile(r"#?\d+")


class SpecError(UsageError):
    """A mistake in one part of a pulse; `field` names the creation form's field to show it beside."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Word:
    """One word of a command; `quoted` when it was one quoted string (question text, never an option)."""

    text: str
    quoted: bool = False


@dataclass
class PulseSpec:
    title: str
    questions: list[QuestionSpec]
    audience: dict[str, Any]
    anonymous: bool = True
    """Anonymous unless `named` is said (or the form says no): the safe choice when nobody chose."""
    results_live: bool = True
    close_after: int | None = None
    remind_after: int | None = None
    recurrence: dict[str, Any] | None = None
    timezone: str = "UTC"
    local_time: bool = False
    share_results: bool = False
    typed_people: tuple[str, ...] = ()
    """People `to:` names as typed words (`@ana`), not as mentions the platform resolved (`<@U…|ana>`): where
    the platform can't look people up, each must be someone Earshot knows."""


def words_of(text: str) -> list[Word]:
    """Shell-like words as bot.commands.split_words reads them, each marked when it was wholly quoted."""
    text = straight_quotes(text)
    return [Word(" ".join(split_words(raw)), bool(_QUOTED.fullmatch(raw))) for raw in _TOKEN.findall(text)]


def parse_one_line(words: Sequence[str | Word], channel_id: str, default_tz: str, today: date,
                   subcommands: Collection[str] = ()) -> PulseSpec:
    """`"How was this week?" scale:1-5 to:#team anonymous close:2d every:fri@16:00` → PulseSpec. The question
    comes first (quoted, or the words before the first option); every later word must be an option."""
    prompt, rest = _question(_words(words), subcommands)
    spec = _in_channel(prompt, channel_id, default_tz)
    kind, options, allow_comment = _options(spec, rest, channel_id, today)
    if kind in ("single", "multi") and not options:
        raise UsageError('choices need options, like choices:"Pizza, Sushi, Salad"')
    spec.questions = [QuestionSpec(kind or "scale", prompt, options, allow_comment)]
    return finish(spec)


def _words(words: Sequence[str | Word]) -> list[Word]:
    return [w if isinstance(w, Word) else Word(w) for w in words]


def _in_channel(title: str, channel_id: str, default_tz: str) -> PulseSpec:
    """A spec with no questions yet, for this channel, before its options are applied."""
    return PulseSpec(title=title, questions=[], audience={"kind": "channel", "channel_id": channel_id},
                     timezone=default_tz)


def _question(words: list[Word], subcommands: Collection[str]) -> tuple[str, list[Word]]:
    """The question and the words after it: the first word when quoted, else the words before the first
    option."""
    if words and words[0].quoted:
        count = 1
    else:
        count = next((n for n, w in enumerate(words) if not w.quoted and _is_option(w.text)), len(words))
    asked, rest = words[:count], words[count:]
    prompt = " ".join(w.text for w in asked).strip()
    if not prompt:
        raise UsageError(QUOTE_FIRST)
    if not asked[0].quoted:
        _refuse_typos(asked, bool(rest), subcommands)
    if len(prompt) > 300:
        raise UsageError("keep the question under 300 characters")
    return prompt, rest


def _refuse_typos(asked: list[Word], has_options: bool, subcommands: Collection[str]) -> None:
    """An unquoted question that is really a mistyped subcommand (`resutls`, `colse 3`) or a lone word, or that
    ends in a mistyped option (`How was it anonymus`)."""
    first, last = asked[0].text, asked[-1].text
    if not has_options and _PLAIN_WORD.fullmatch(first.lower()) and all(
            _PULSE_ID.fullmatch(w.text) for w in asked[1:]):
        close = difflib.get_close_matches(first.lower(), list(subcommands), n=1, cutoff=0.75)
        if close:
            raise UsageError(f"/pulse has no “{first}”. Did you mean /pulse {close[0]}?")
        if len(asked) == 1:
            flag = difflib.get_close_matches(first.lower(), FLAGS, n=1, cutoff=0.75)
            raise UsageError(f"/pulse has no “{first}”." + (f" Did you mean {flag[0]}?" if flag else "") +
                             f" To ask a question, {QUOTE_FIRST}")
    flag = difflib.get_close_matches(last.lower(), FLAGS, n=1, cutoff=0.8) if _PLAIN_WORD.fullmatch(
        last.lower()) else []
    if flag:
        raise UsageError(f"I don't know “{last}”. Did you mean {flag[0]}? If it belongs to the question, put the "
                         "whole question in quotes.")


def _is_option(text: str) -> bool:
    """A flag, or `key:value` for a key (or a near miss of one, refused later with a suggestion)."""
    lowered = text.lower()
    key = _KEY_SHAPED.fullmatch(lowered)
    if lowered in FLAGS or key is None:
        return lowered in FLAGS
    name, value = key.groups()
    return name in KEYS or bool(value and difflib.get_close_matches(name, KEYS, n=1, cutoff=0.75))


def _unknown(word: str) -> str:
    """Why a bare word after the question is refused, with the nearest option."""
    lowered = word.lower()
    if lowered in KEYS:
        return f"{lowered}: needs a value, like {EXAMPLES[lowered]}."
    if word.startswith(("@", "<@", "#", "<#")):
        return f"I don't know “{word}” on its own: name people or a channel with to:@ana,@ben or to:#team."
    close = difflib.get_close_matches(lowered, [*FLAGS, *(f"{key}:" for key in KEYS)], n=1, cutoff=0.6)
    if not close:
        return f"I don't know “{word}”. If it belongs to the question, put the whole question in quotes first."
    hint = f"{close[0]} (like {EXAMPLES[close[0][:-1]]})" if close[0].endswith(":") else close[0]
    return f"I don't know “{word}”. Did you mean {hint}?"


def _options(spec: PulseSpec, words: list[Word], channel_id: str,
             today: date) -> tuple[str | None, tuple[str, ...], bool]:
    """Apply the options after the question to `spec`; returns the question's kind, choices and comment box."""
    kind: str | None = None
    options: tuple[str, ...] = ()
    allow_comment = False
    for word in words:
        key, sep, value = word.text.partition(":")
        lowered = key.lower()
        if word.quoted:
            raise UsageError(f"“{word.text}” comes after the question: a one-line pulse asks one question, in "
                             "one pair of quotes (/pulse alone opens a form for more).")
        if not sep:
            if lowered not in FLAGS:
                raise UsageError(_unknown(word.text))
            kind, allow_comment = _flag(spec, lowered, kind, allow_comment)
            continue
        if lowered not in KEYS:
            close = difflib.get_close_matches(lowered, KEYS + FLAGS, n=1, cutoff=0.6)
            raise UsageError(f"I don't know “{key}:”." + (f" Did you mean {close[0]}?" if close else ""))
        if not value:
            raise UsageError(f"{lowered}: needs a value, like {EXAMPLES[lowered]}")
        match lowered:
            case "scale":
                if value not in ("1-5", "5"):
                    raise UsageError("scale: goes from 1 to 5 (scale:1-5); for 0–10 use enps")
                kind = _one_kind(kind, "scale")
            case "choices" | "choice" | "multi":
                kind = _one_kind(kind, "multi" if lowered == "multi" else "single")
                options = tuple(o.strip() for o in re.split(r"[,|]", value) if o.strip())
                if not 2 <= len(options) <= MAX_OPTIONS:
                    raise UsageError(f"{lowered}: needs 2 to {MAX_OPTIONS} options, separated by commas")
            case "to":
                spec.audience = audience(value, channel_id)
                spec.typed_people = tuple(m.group(2) for m in MENTION.finditer(value) if m.group(2))
            case "close":
                spec.close_after = parse_duration(value, "close")
            case "remind":
                spec.remind_after = parse_duration(value, "remind")
            case "every":
                spec.recurrence = parse_every(value, today)
            case "tz":
                spec.timezone = zone_name(value)
            case "template":
                raise UsageError("use /pulse template NAME to start from the question bank")
    return kind, options, allow_comment


def _flag(spec: PulseSpec, flag: str, kind: str | None, allow_comment: bool) -> tuple[str | None, bool]:
    match flag:
        case "anonymous" | "anon":
            spec.anonymous = True
        case "named":
            spec.anonymous = False
        case "live":
            spec.results_live = True
        case "at-close":
            spec.results_live = False
        case "comment":
            allow_comment = True
        case "share":
            spec.share_results = True
        case "local":
            spec.local_time = True
        case _:
            kind = _one_kind(kind, flag)
    return kind, allow_comment


def _one_kind(kind: str | None, new: str) -> str:
    """A one-line pulse asks one question of one kind: a second kind is a mistake, not a choice to guess."""
    if kind is not None and kind != new:
        shown = {"single": "choices", "multi": "multi"}
        raise UsageError(f"one question, one kind: {shown.get(kind, kind)} or {shown.get(new, new)}?")
    return new


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
        return listed(users)
    raise UsageError(f"to:{value} — say to:here, to:dm, to:#channel or to:@person,@person")


def people(value: str) -> dict[str, Any]:
    """A list of people as the creation form takes it: mentions or user ids, separated by commas or spaces."""
    users = [m.group(1) or m.group(2) for m in MENTION.finditer(value)]
    rest = MENTION.sub(" ", value)
    users += [part for part in re.split(r"[\s,;]+", rest) if part]
    if not users:
        raise UsageError("list the people, like @ana, @ben (or their user ids), separated by commas")
    return listed(users)


def listed(users: Sequence[str]) -> dict[str, Any]:
    """A "people" audience: each person once, at most MAX_PEOPLE of them."""
    unique = list(dict.fromkeys(users))
    if len(unique) > MAX_PEOPLE:
        raise UsageError(f"a pulse goes to at most {MAX_PEOPLE} people by name ({len(unique)} listed); for more, "
                         "send it to a channel (to:#team, or to:dm for a DM to each of its members)")
    return {"kind": "people", "users": unique}


def zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown timezone {value!r}; use a name like Europe/Berlin") from None
    return value


def from_template(name: str, words: Sequence[str | Word], channel_id: str, default_tz: str,
                  today: date) -> PulseSpec:
    """A template's questions with the delivery options given after its name."""
    if name not in TEMPLATES:
        close = difflib.get_close_matches(name, list(TEMPLATES), n=1, cutoff=0.5)
        known = ", ".join(TEMPLATES)
        raise UsageError(f"no template “{name}”." + (f" Did you mean {close[0]}?" if close else "") +
                         f" The bank has: {known}")
    title, questions = TEMPLATES[name]
    spec = _in_channel(title, channel_id, default_tz)
    _options(spec, _words(words), channel_id, today)
    return finish(replace(spec, questions=list(questions)))


def finish(spec: PulseSpec) -> PulseSpec:
    """Checks across fields, then defaults that depend on others."""
    if not spec.questions:
        raise SpecError("questions", "a pulse needs at least one question")
    if len(spec.questions) > MAX_QUESTIONS:
        raise SpecError("questions", f"a pulse has at most {MAX_QUESTIONS} questions ({len(spec.questions)} now)")
    if spec.local_time and spec.audience["kind"] == "channel":
        raise SpecError("when", "local (each person's own time) needs DMs: a DM to each member (to:dm) or a list "
                                "of people (to:@ana,@ben)")
    if spec.local_time and spec.recurrence is None:
        raise SpecError("when", "local (each person's own time) goes with a repeat, like every:weekdays@09:00")
    if spec.recurrence and spec.close_after is None:
        spec.close_after = 1440  # a recurring pulse closes a day later unless told otherwise
    if spec.remind_after is not None and spec.close_after is not None and spec.remind_after >= spec.close_after:
        raise SpecError("remind", "the reminder would come after the pulse closes: remind sooner or close later")
    return spec
