"""The digest's figures as CSV, one row per figure; hidden figures keep their row with no numbers, and hidden
comment themes one row that says what they need.

`n` is the group a figure stands on, except for pulse scores and eNPS: their answers track the people who
answered, which complementary suppression may hide in one team; the overall's or another team's `n` would then
give that team's count back. Their size is the "people who answered" row, where it shows."""

from __future__ import annotations

import csv
import io

from bot.digests.format import comment_themes_hidden
from bot.digests.model import Digest
from bot.digests.rows import all_rows

HEADER = ["week", "scope", "section", "metric", "label", "value", "previous", "change", "n", "status"]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def digest_csv(digest: Digest) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    week = digest.week.label
    for scope in [digest.overall, *digest.teams]:
        for row in all_rows(scope):
            f = row.figure
            status = "none" if f.absent else "hidden" if f.hidden else "shown"
            n = "" if f.hidden or (row.section == "employees" and not f.count) else f.n
            writer.writerow([week, scope.key, row.section, row.metric, "", _number(f.value), _number(f.previous),
                             _number(f.delta), n, status])
        for theme in scope.customers.themes:
            writer.writerow([week, scope.key, "customers", "theme", theme.phrase, theme.texts, "", "", "", "shown"])
        if scope.employees.themes is None:
            writer.writerow([week, scope.key, "employees", "comment themes",
                             comment_themes_hidden(digest.comment_minimum), "", "", "", "", "hidden"])
        for theme in scope.employees.themes or []:  # no count: the overall's minus a team's would be others'
            writer.writerow([week, scope.key, "employees", "comment theme", theme.phrase, "", "", "", "", "shown"])
    for flag in digest.flags:
        writer.writerow([week, "overall", "bridge", "flag", flag, "", "", "", "", "shown"])
    return buffer.getvalue()
