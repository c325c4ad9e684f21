"""The digest as a chat card: headline figures, charts, teams in one line each, flags and quotes."""

from __future__ import annotations

from bot.cards import Block, Card, Context, Divider, Field, Fields, Heading, Image, Quote, Text
from bot.digests.format import HIDDEN, comment_themes_hidden, show
from bot.digests.model import Digest, Scope
from bot.digests.rows import headline_rows

MAX_TEAMS = 15
MAX_QUOTES = 3


def digest_card(digest: Digest, chart_urls: list[tuple[str, str]], title: str = "Weekly digest") -> Card:
    """`chart_urls` are (alt, `chart:<id>` URL) pairs for the Image blocks."""
    week = digest.week
    blocks: list[Block] = [
        Heading(f"📊 {title} · {week.label}"),
        Context((f"{week.first_day:%a %d %b} – {week.last_day:%a %d %b %Y} ({week.zone.key}) · changes against "
                 f"the week before · groups under {digest.minimum} are hidden, with others where a total would "
                 "give one away",)),
    ]
    rows = headline_rows(digest.overall)
    for section, label in (("customers", "🗣 Customers"), ("employees", "🙋 Employees"),
                           ("bridge", "🤝 Employees × customer feedback")):
        blocks.append(Text(label))
        blocks.append(Fields(tuple(Field(r.metric, show(r.figure, r.unit)) for r in rows if r.section == section)))
        if section == "customers" and digest.overall.customers.themes:
            blocks.append(Context(("Themes: " + " · ".join(
                f"{t.phrase} ({t.texts})" for t in digest.overall.customers.themes),)))
        if section == "employees":
            blocks.append(Context((_comment_line(digest, digest.overall),)))
    blocks.extend(Image(url, alt) for alt, url in chart_urls)
    if digest.teams:
        blocks.append(Divider())
        blocks.append(Text("Teams\n" + "\n".join(_team_line(t) for t in digest.teams[:MAX_TEAMS])))
        if len(digest.teams) > MAX_TEAMS:
            blocks.append(Context((f"…and {len(digest.teams) - MAX_TEAMS} more teams: `earshot digest --week "
                                   f"{week.label} --format html` has them all.",)))
    if digest.flags:
        blocks.append(Text("⚑ Worth a look\n" + "\n".join(f"• {flag}" for flag in digest.flags[:10])))
    quotes = digest.overall.customers.quotes[:MAX_QUOTES]
    if quotes:
        blocks.append(Text("💬 What employees reacted to most"))
        for quote in quotes:
            if quote.text:  # a score given without a comment: no empty quote, the score cue says it
                blocks.append(Quote(quote.text))
            blocks.append(Context(tuple(x for x in (quote.cue, None if quote.text else "no comment", quote.source,
                                                    quote.area) if x)))
    fallback = (f"{title} {week.label}: {show(digest.overall.customers.volume)} feedback items, "
                f"NPS {show(digest.overall.customers.nps, 'nps')}, pulse {show(digest.overall.employees.score)}")
    return Card(fallback=fallback, blocks=tuple(blocks))


def _comment_line(digest: Digest, scope: Scope) -> str:
    themes = scope.employees.themes
    if themes is None:
        return f"Comment themes: {comment_themes_hidden(digest.comment_minimum)}"
    return "Comment themes: " + (" · ".join(t.phrase for t in themes) or "none recurring")


def _team_line(scope: Scope) -> str:
    c, e, b = scope.customers, scope.employees, scope.bridge
    customer = [f"feedback {show(c.volume)}", f"NPS {show(c.nps, 'nps')}"]
    if c.heard is not None:  # its areas' figures would read as what it heard: say what it did hear
        customer = [f"received {show(c.heard.items)} ({c.heard.takes})",
                    f"avg NPS answer {show(c.heard.mean_nps_answer)}/10"]
    parts = [*customer, f"pulse {show(e.score, 'score')}",
             f"eNPS {show(e.enps, 'nps')}", f"seen {show(b.seen_share, '%')}", f"claimed {show(b.claimed_share, '%')}"]
    if all(p.endswith((HIDDEN, "—")) for p in parts):
        return f"#{scope.name}: {HIDDEN} in every section"
    return f"#{scope.name}: " + " · ".join(parts)
