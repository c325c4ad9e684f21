"""The digest's figures as CSV, one row per figure; hidden figures keep their row with no numbers, and hidden
comment themes one row that says what they need.

`n` is the group a figure stands on, except for pulse scores and eNPS: their answers track the people who
answered, which complementary suppression may hide in one team; the overall's or another team's `n` would then
give that team's count back. Their size is the "people who answered" row, where it shows."""

from __future__ import annotations

from bot.digests.format import comment_themes_hidden
from bot.digests.model import Digest
from bot.digests.rows import all_rows
from bot.spreadsheet import Cell, csv_bytes

HEADER = ["week", "scope", "section", "metric", "label", "value", "previous", "change", "n", "status", "name"]
"""`scope` is the stable key (`platform:channel`, or `overall`); `name` what people call it (the channel's name,
or its id where the platform has none), last so that readers by position keep working."""


def _number(value: float | None) -> int | float | None:
    """A figure to two decimals, as a number (a whole one without ".0"), so a spreadsheet can sum it."""
    if value is None:
        return None
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def digest_csv(digest: Digest) -> bytes:
    """The CSV file (bot.spreadsheet: formula-safe cells, UTF-8 with a BOM)."""
    rows: list[list[Cell]] = []
    week = digest.week.label
    for scope in [digest.overall, *digest.teams]:
        first = len(rows)
        for row in all_rows(scope):
            f = row.figure
            status = "none" if f.absent else "hidden" if f.hidden else "shown"
            n = "" if f.hidden or (row.section == "employees" and not f.count) else f.n
            rows.append([week, scope.key, row.section, row.metric, "", _number(f.value), _number(f.previous),
                         _number(f.delta), n, status])
        for theme in scope.customers.themes:
            rows.append([week, scope.key, "customers", "theme", theme.phrase, theme.texts, "", "", "", "shown"])
        if scope.employees.themes is None:
            rows.append([week, scope.key, "employees", "comment themes",
                         comment_themes_hidden(digest.comment_minimum), "", "", "", "", "hidden"])
        for theme in scope.employees.themes or []:  # no count: the overall's minus a team's would be others'
            rows.append([week, scope.key, "employees", "comment theme", theme.phrase, "", "", "", "", "shown"])
        for cells in rows[first:]:
            cells.append(scope.name)
    for flag in digest.flags:
        rows.append([week, "overall", "bridge", "flag", flag, "", "", "", "", "shown", digest.overall.name])
    return csv_bytes(HEADER, rows)
