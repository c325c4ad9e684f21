"""What a team heard, when its stations take only part of the feedback in its areas (`nps:detractor`,
`source:appstore`, a keyword): the items its stations' filters match, counted item by item, so that the digest
can say what the channel actually received beside the figures of its areas."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.digests.format import show
from bot.digests.model import Heard
from bot.digests.privacy import Figure, count_figure, figure
from bot.digests.queries import THEME_SAMPLE, FeedbackRow
from bot.digests.teams import Team
from bot.digests.themes import count_phrases, top_themes
from bot.feedback.filters import Matcher, Probe, describe, probe

Hears = Callable[[str | None], bool]


def probes(rows: Sequence[FeedbackRow]) -> list[Probe]:
    """Each item as filters see it, built once for every team."""
    return [probe(r.source, r.text, r.score, r.score_type, r.tags, r.product_area, r.segment, r.language)
            for r in rows]


def heard(team: Team, rows: Sequence[FeedbackRow], probed: Sequence[Probe], hears: tuple[Hears, Hears],
          volume: Figure, nps: Figure, minimum: int) -> Heard:
    """`hears` (last week, this week) are the areas the team's figures count, without those withheld: what it
    heard is counted within them, so it gives nothing away that those figures hide. `volume` is those figures'
    item count, for the share; `nps` their NPS, whose answer count the average answer heard must not leave a
    small group beside."""
    matchers = [Matcher(filters) for filters in team.filters]
    matched: tuple[list[FeedbackRow], list[FeedbackRow]] = ([], [])
    for row, item in zip(rows, probed, strict=True):
        if hears[row.week](row.product_area) and any(m(item) for m in matchers):
            matched[row.week].append(row)
    before, now = matched
    items = count_figure(len(now), len(before), minimum)
    if 0 < volume.n - len(now) < minimum:  # the rows' volume minus what it received would show a small group
        items = items.concealed()
    elif 0 < volume.prev_n - len(before) < minimum:
        items = items.without_change()
    if items.hidden:
        return Heard(items, items, items, [], _takes(team), counts(team), len(team.filters))
    share = figure(100 * len(now) / volume.n if volume.n else None, len(now), None, 0, minimum)
    answers = [r.score for r in now if r.score_type == "nps" and r.score is not None]
    mean_nps = figure(_mean(answers), len(answers), None, 0, minimum)  # a change of tenths would round to “0”
    if 0 < nps.n - len(answers) < minimum:  # the team's NPS beside this average would show the other answers
        mean_nps = mean_nps.concealed()
    themes = top_themes(count_phrases(r.text for r in now[:THEME_SAMPLE]))
    return Heard(items, share, mean_nps, themes, _takes(team), counts(team), len(team.filters))


def _takes(team: Team) -> str:
    return " or ".join(describe(f) for f in team.filters)


def counts(team: Team) -> str:
    """What a team's customer figures count, in words."""
    if team.areas is None:
        return "all feedback"
    if not team.areas:
        return "no feedback"
    areas = sorted(team.areas)
    return f"feedback in area{'s' if len(areas) > 1 else ''} " + ", ".join(areas)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def conceal(found: Heard) -> Heard:
    """Hidden with the figures it stands beside: the share and count would give a hidden volume away."""
    return replace(found, items=found.items.concealed(), share=found.share.concealed(),
                   mean_nps_answer=found.mean_nps_answer.concealed(), themes=[])


def sentence(name: str, found: Heard) -> str:
    """What a team heard and what its customer rows count, for the digest's team sections."""
    whose = f"#{name}'s {'stations take' if found.stations > 1 else 'station takes'} {found.takes}."
    rows = f"Its customer rows count {found.counts}, not only what it received."
    if found.items.hidden:
        return f"{whose} What it received this week: {show(found.items)}. {rows}"
    share = "" if found.share.hidden else f", {show(found.share, '%')} of {found.counts}"
    mean = ("" if found.mean_nps_answer.hidden else
            f"; their average NPS answer was {show(found.mean_nps_answer)} of 10")
    return f"{whose} It received {show(found.items)} items this week{share}{mean}. {rows}"
