"""Pulse cards: the question card people answer, and the results card the author (and channel) sees."""

from __future__ import annotations

from datetime import datetime

from bot.cards import Block, Button, Buttons, Card, Choices, Context, Divider, Heading, Image, Option, Text, When
from bot.pulses.questions import answer_options
from bot.pulses.results import QuestionResult, RunResults, bars
from bot.pulses.schedule import describe
from storage.tables import Pulse, PulseRun, Question


def privacy_note(pulse: Pulse, minimum: int, comment_minimum: int) -> str:
    """What respondents are told the author (and HR), and whoever gets the card, will see."""
    shared = " Totals are shared in the channel at close." if pulse.audience.get("share") else ""
    if pulse.results_live and pulse.audience.get("kind", "channel") == "channel":  # DM copies show no totals
        shared = " Live results: everyone in this channel sees the totals and comments on this card as answers " \
                 f"come in, within the same minimums.{shared}"
    if pulse.anonymous:
        return (f"🔒 Anonymous: your answer is kept sealed, never readable beside your name, until it joins the "
                f"results in a group of at least {minimum} people's answers, so neither the author, HR, nor anyone "
                "with a copy of Earshot's data can tell which one is yours; only someone who also holds Earshot's "
                f"secret key, or changes its code, could. Answers are final. A question's totals appear in steps, "
                f"from {2 * minimum} answers while it runs and from {minimum} at close, and its comments once "
                f"{comment_minimum} people have written one, shuffled.{shared}")
    return ("👤 Not anonymous: the author and HR see who answered what. You can change your answer until it "
            f"closes.{shared}")


def closes_text(run: PulseRun, zone: str) -> When | None:
    """When the run closes, or when it closed: a closed run's card must not promise a deadline still to come.
    Each reader sees it in their own zone; `zone` (the pulse's) writes it out where that can't be done."""
    closed = run.status == "closed"
    moment = (run.closed_at or run.closes_at) if closed else run.closes_at
    if moment is None:
        return None
    return When("closed" if closed else "closes", moment, zone)


def question_card(pulse: Pulse, run: PulseRun, questions: list[Question], results: RunResults | None,
                  minimum: int, comment_minimum: int) -> Card:
    """The card people answer from. `results` is shown when live results are on (and allowed)."""
    closed = run.status == "closed"
    blocks: list[Block] = [Heading(f"📊 {pulse.title}")]
    for number, question in enumerate(questions, start=1):
        prefix = f"{number}. " if len(questions) > 1 else ""
        if prefix or question.prompt != pulse.title:  # a one-line pulse's question is its title already
            blocks.append(Text(f"{prefix}{question.prompt}"))
        if not closed:
            blocks.extend(_answer_blocks(run, question))
        result = next((r for r in results.questions if r.question.id == question.id), None) if results else None
        if results is not None and not results.hidden and result is not None and result.answered:
            blocks.append(Text("\n".join(_summary(result, results))))
    status = "🔒 Closed — thank you!" if closed else None
    tally = f"{results.respondents} answered" if results is not None else None
    context = [x for x in (status, tally, closes_text(run, pulse.timezone)) if x]
    if results is not None and results.hidden:
        context.append(f"results show from {minimum} answers")
    elif results is not None and pulse.anonymous and not closed and any(not r.answered for r in results.questions):
        context.append(f"figures show once {2 * minimum} have answered, or at close")
    blocks.append(Context(tuple(context) or ("Answer with the buttons above.",)))
    blocks.append(Context((privacy_note(pulse, minimum, comment_minimum),)))
    return Card(fallback=f"Pulse: {pulse.title}", blocks=tuple(blocks))


def _answer_blocks(run: PulseRun, question: Question) -> list[Block]:
    action = f"pulse:vote:{run.id}:{question.id}"
    options = answer_options(question.kind, question.options)
    blocks: list[Block] = []
    if question.kind == "text":
        blocks.append(Buttons((Button(f"pulse:text:{run.id}:{question.id}", "✍️ Answer", "text", "primary"),)))
    elif question.kind == "multi":
        blocks.append(Choices(action, tuple(Option(label, value) for label, value in options), multi=True,
                              placeholder="Pick all that apply"))
    else:
        blocks.append(Buttons(tuple(Button(action, label, value) for label, value in options)))
    if question.allow_comment and question.kind != "text":
        blocks.append(Buttons((Button(f"pulse:comment:{run.id}:{question.id}", "💬 Answer with a comment",
                                      "comment"),)))
    return blocks


def _summary(result: QuestionResult, results: RunResults) -> list[str]:
    if result.hidden:
        return [f"🔒 hidden until {results.minimum} people answer this question (anonymity)"]
    lines = [] if result.question.kind == "text" else bars(result)
    if result.mean is not None:
        lines.append(f"average {result.mean:.2f} / 5")
    if result.enps is not None:
        lines.append(f"eNPS {result.enps:+.0f}")
    if result.comments_hidden:
        lines.append(f"comments show once {results.comment_minimum} people have written one")
    lines.extend(f"“{comment}”" for comment in result.comments[:10])
    if result.comments_removed is not None:
        removed = f"{result.comments_removed} comments were" if result.comments_removed else "The comments were"
        lines.append(f"💬 {removed} removed with the answers when their retention period ended")
    return lines


def results_card(results: RunResults, final: bool, chart_url: str | None = None,
                 trend: list[tuple[datetime, float | None]] | None = None, trend_chart: str | None = None) -> Card:
    pulse, run = results.pulse, results.run
    title = "Results" if final else "Live results"
    blocks: list[Block] = [Heading(f"{title}: {pulse.title}")]
    share = f" of {results.audience} ({results.participation:.0%})" if results.participation is not None else ""
    blocks.append(Context((f"{results.respondents} answered{share}", describe(
        pulse.recurrence, pulse.timezone, bool((pulse.recurrence or {}).get("local"))),
        "anonymous" if pulse.anonymous else "named")))
    if results.hidden:
        blocks.append(Text(f"🔒 Results stay hidden until at least {results.minimum} people have answered "
                           f"(anonymity). {results.respondents} so far."))

    else:
        for result in results.questions:
            blocks.append(Text(result.question.prompt))
            blocks.append(Text("\n".join(_summary(result, results)) or "no answers"))
        if chart_url:
            blocks.append(Image(chart_url, f"Bar chart of the answers to “{pulse.title}”"))
        if pulse.anonymous and not final:
            blocks.append(Context((f"Anonymous answers join these figures in groups of at least {results.minimum}, "
                                   "so they move in steps and trail the count of people; the last ones arrive at "
                                   "close.",)))
    if trend:
        points = [f"{day:%d %b}: {'hidden' if value is None else f'{value:.2f}'}" for day, value in trend]
        blocks.append(Divider())
        blocks.append(Text("Trend across runs — " + " · ".join(points)))
        if trend_chart:
            blocks.append(Image(trend_chart, f"Trend of “{pulse.title}” across runs"))
    closed = " · closed" if run.status == "closed" else ""
    blocks.append(Context((f"pulse #{pulse.id} · run #{results.number}{closed}",
                           "/pulse export for a CSV")))
    return Card(fallback=f"{title}: {pulse.title}", blocks=tuple(blocks))
