"""The digest as Markdown (for the CLI, a wiki or an e-mail)."""

from __future__ import annotations

from bot.digests.format import comment_themes_hidden, hidden_note, show
from bot.digests.heard import sentence
from bot.digests.model import Digest, Scope
from bot.digests.rows import all_rows

_MARKUP = str.maketrans({ch: "\\" + ch for ch in "\\`*_[]<>#|~!&"})


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _inline(text: str) -> str:
    """Text from outside (a channel's name, a product area) as literal Markdown: every mark that could start
    emphasis, a link, an HTML tag, an entity or a heading's end is backslash-escaped, on one line."""
    return " ".join(text.split()).translate(_MARKUP)


def _scope(digest: Digest, scope: Scope, level: str) -> list[str]:
    lines = [f"{level} {_inline(scope.name)}", ""]
    heard = scope.customers.heard
    if heard is not None:
        lines.append(_inline(sentence(scope.name, heard)))
        if heard.themes:
            lines.append("Themes of what it received: " + ", ".join(f"{_cell(t.phrase)} ({t.texts})"
                                                                    for t in heard.themes))
        lines.append("")
    lines += ["| section | figure | this week (change) |", "|---|---|---|"]
    lines += [f"| {r.section} | {_cell(r.metric)} | {show(r.figure, r.unit)} |" for r in all_rows(scope)]
    lines.append("")
    themes = scope.customers.themes
    if themes:
        label = "Customer themes" if heard is None else f"Themes of {heard.counts}"
        lines.append(f"{_inline(label)}: " + ", ".join(f"{_cell(t.phrase)} ({t.texts})" for t in themes))
    comment_themes = scope.employees.themes
    if comment_themes is None:
        lines.append(f"Comment themes: {comment_themes_hidden(digest.comment_minimum)}")
    else:
        lines.append("Comment themes: " + (", ".join(_cell(t.phrase) for t in comment_themes) or "none recurring"))
    for quote in scope.customers.quotes:
        facts = " · ".join(x for x in (quote.cue, quote.source, quote.area) if x)
        # a score given without a comment: no empty quote, the score cue says it
        lines.append(f"> {_cell(quote.text)}  \n> — {facts}" if quote.text else f"— {facts} · no comment")
    lines.append("")
    return lines


def digest_markdown(digest: Digest) -> str:
    week = digest.week
    lines = [f"# Weekly digest {week.label}", "",
             f"{week.first_day:%a %d %b} – {week.last_day:%a %d %b %Y} ({week.zone.key}). Changes are against "
             f"the week before. {hidden_note(digest.minimum, digest.comment_minimum)}", ""]
    if digest.flags:
        lines += ["## Worth a look", "", *(f"- {_inline(flag)}" for flag in digest.flags), ""]
    lines += ["## Trend", "", "| week | feedback | NPS | pulse score |", "|---|---|---|---|"]
    lines += [f"| {p.week} | {show(p.volume)} | {show(p.nps, 'nps')} | {show(p.score, 'score')} |"
              for p in digest.trend]
    lines.append("")
    lines += _scope(digest, digest.overall, "##")
    if digest.teams:
        lines += ["## Teams", ""]
        for team in digest.teams:
            lines += _scope(digest, team, "###")
    return "\n".join(lines)
