"""The digest as one self-contained HTML page: styles inline, charts as data: URIs, every text escaped."""

from __future__ import annotations

import base64
from html import escape

from bot.digests.format import comment_themes_hidden, hidden_note, show
from bot.digests.heard import sentence
from bot.digests.model import Digest, Scope
from bot.digests.rows import all_rows

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;color:#111;
padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}th{background:#f5f5f5}
.hidden{color:#888;font-style:italic}.charts img{max-width:100%;display:block;margin:1rem 0}
blockquote{border-left:4px solid #2563eb;margin:.5rem 0;padding:.25rem .75rem;background:#f8fafc}
.flag{color:#b45309}.note{color:#555}.heard{background:#fefce8;border-left:4px solid #ca8a04;padding:.4rem .75rem}
"""


def _cell(text: str) -> str:
    css = ' class="hidden"' if text.startswith("hidden") else ""
    return f"<td{css}>{escape(text)}</td>"


def _scope(digest: Digest, scope: Scope, level: str) -> list[str]:
    out = [f"<{level}>{escape(scope.name)}</{level}>"]
    heard = scope.customers.heard
    if heard is not None:
        out.append(f'<p class="heard">{escape(sentence(scope.name, heard))}</p>')
        if heard.themes:
            out.append("<p>Themes of what it received: " + ", ".join(
                f'<span dir="auto">{escape(t.phrase)}</span> ({t.texts})' for t in heard.themes) + "</p>")
    out.append("<table><tr><th>section</th><th>figure</th><th>this week (change)</th></tr>")
    out += [f"<tr><td>{escape(r.section)}</td><td>{escape(r.metric)}</td>{_cell(show(r.figure, r.unit))}</tr>"
            for r in all_rows(scope)]
    out.append("</table>")
    if scope.customers.themes:
        label = "Customer themes" if heard is None else f"Themes of {heard.counts}"
        out.append(f"<p>{escape(label)}: " + ", ".join(f"{escape(t.phrase)} ({t.texts})"
                                                       for t in scope.customers.themes) + "</p>")
    themes = scope.employees.themes
    if themes is None:
        out.append(f'<p class="hidden">Comment themes: {comment_themes_hidden(digest.comment_minimum)}</p>')
    elif themes:
        out.append("<p>Comment themes: " + ", ".join(escape(t.phrase) for t in themes) + "</p>")
    for quote in scope.customers.quotes:
        facts = " · ".join(x for x in (quote.cue, quote.source, quote.area) if x)
        if quote.text:
            out.append(f"<blockquote dir=\"auto\">{escape(quote.text)}<br><small>{escape(facts)}</small></blockquote>")
        else:  # a score given without a comment: no empty quote
            out.append(f"<p><small>{escape(facts)} · no comment</small></p>")
    return out


def digest_html(digest: Digest, charts: list[tuple[str, bytes]]) -> str:
    week = digest.week
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>Weekly digest {escape(week.label)}</title><style>{STYLE}</style></head><body>",
           f"<h1>Weekly digest {escape(week.label)}</h1>",
           f'<p class="note">{week.first_day:%a %d %b} – {week.last_day:%a %d %b %Y} ({escape(week.zone.key)}). '
           f"Changes are against the week before. {escape(hidden_note(digest.minimum, digest.comment_minimum))}"
           "</p>"]
    if digest.flags:
        out.append("<h2>Worth a look</h2><ul>" + "".join(f'<li class="flag">{escape(f)}</li>' for f in digest.flags)
                   + "</ul>")
    if charts:
        out.append('<div class="charts">')
        out += [f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                for alt, png in charts]
        out.append("</div>")
    out += _scope(digest, digest.overall, "h2")
    if digest.teams:
        out.append("<h2>Teams</h2>")
        for team in digest.teams:
            out += _scope(digest, team, "h3")
    out.append("</body></html>")
    return "\n".join(out)
