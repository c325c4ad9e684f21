"""A scope's figures as labelled rows, in one order for every format."""

from __future__ import annotations

from dataclasses import dataclass

from bot.digests.model import Scope
from bot.digests.privacy import Figure


@dataclass(frozen=True)
class Row:
    section: str
    metric: str
    figure: Figure
    unit: str = ""


def headline_rows(scope: Scope) -> list[Row]:
    c, e, b = scope.customers, scope.employees, scope.bridge
    return [
        Row("customers", "feedback items", c.volume),
        Row("customers", "NPS", c.nps, "nps"),
        Row("customers", "CSAT (4-5 of 5)", c.csat, "%"),
        Row("customers", "NPS detractors", c.detractors),
        Row("employees", "pulse score (0-100)", e.score, "score"),
        Row("employees", "workload score (0-100)", e.workload, "score"),
        Row("employees", "eNPS", e.enps, "nps"),
        Row("employees", "people who answered", e.participation),
        Row("bridge", "people engaging", b.people),
        Row("bridge", "reactions", b.reactions),
        Row("bridge", "claims", b.claims),
        Row("bridge", "loops closed", b.closed),
        Row("bridge", "hours to first reaction", b.first_reaction_hours, "h"),
        Row("bridge", "feedback seen", b.seen_share, "%"),
        Row("bridge", "feedback claimed", b.claimed_share, "%"),
    ]


def breakdown_rows(scope: Scope) -> list[Row]:
    c = scope.customers
    return ([Row("customers", f"source: {key}", f) for key, f in c.by_source.items()]
            + [Row("customers", f"area: {key}", f) for key, f in c.by_area.items()])


def all_rows(scope: Scope) -> list[Row]:
    return headline_rows(scope) + breakdown_rows(scope)
