"""The cursor of an API that lists reviews newest first (App Store Connect by `-createdDate`, Google Play by last
modification): walk pages from the top until a review already stored comes up, then remember the newest one.

The mark is saved only once a walk reaches what an earlier walk stored: while pages of a walk remain, the cursor
keeps the old mark and the page to continue from, so a crash or a 429 between pages resumes the walk instead of
skipping the reviews below the page it stopped at. Several reviews may share a timestamp; the mark keeps all of
their ids, so none of them is stored twice and none is skipped. Reviews written during a walk push the older ones
down a page, so a later page may repeat the end of the one before: the walk also keeps its oldest review, and a
page's reviews not older than that are skipped (the next walk starts from the top and finds the new ones)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from adapters.sources.base import SourceError


@dataclass
class Mark:
    """The newest review stored: its time (nanoseconds since the epoch) and the ids at exactly that time."""

    at: int
    ids: set[str] = field(default_factory=set)

    def add(self, at: int, review_id: str) -> Mark:
        if at > self.at:
            return Mark(at, {review_id})
        if at == self.at:
            self.ids.add(review_id)
        return self

    def covers(self, at: int, review_id: str) -> bool:
        """Stored already: older than the mark, or at it with a known id."""
        return at < self.at or (at == self.at and review_id in self.ids)

    def lower(self, at: int, review_id: str) -> Mark:
        if at < self.at:
            return Mark(at, {review_id})
        if at == self.at:
            self.ids.add(review_id)
        return self

    def above(self, at: int, review_id: str) -> bool:
        """Walked already, as the oldest of a walk: newer than it, or at it with a known id."""
        return at > self.at or (at == self.at and review_id in self.ids)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "ids": sorted(self.ids)}

    @classmethod
    def from_json(cls, data: Any) -> Mark | None:
        if data is None:
            return None
        return cls(int(data["at"]), {str(i) for i in data["ids"]})


@dataclass
class Walk:
    """A source's cursor: `seen` (stored), and during a walk its newest and oldest reviews and the next page."""

    seen: Mark | None = None
    top: Mark | None = None
    low: Mark | None = None
    next: str | None = None

    @classmethod
    def load(cls, cursor: str | None) -> Walk:
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            return cls(Mark.from_json(data.get("seen")), Mark.from_json(data.get("top")),
                       Mark.from_json(data.get("low")), data.get("next"))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise SourceError("the stored cursor is unreadable; `earshot sources remove` and add the source "
                              "again to start over") from None

    def dump(self) -> str:
        data: dict[str, Any] = {"seen": self.seen.to_json() if self.seen else None}
        if self.next is not None:
            data["top"] = self.top.to_json() if self.top else None
            data["low"] = self.low.to_json() if self.low else None
            data["next"] = self.next
        return json.dumps(data, separators=(",", ":"))

    def stored(self, at: int, review_id: str) -> bool:
        """Stored by an earlier walk: this walk ends here."""
        return self.seen is not None and self.seen.covers(at, review_id)

    def walked(self, at: int, review_id: str) -> bool:
        """Already on an earlier page of this walk (pushed down by reviews written meanwhile): skip it."""
        return self.low is not None and self.low.above(at, review_id)

    def note(self, at: int, review_id: str) -> None:
        """A review of this walk is about to be stored."""
        self.top = Mark(at, {review_id}) if self.top is None else self.top.add(at, review_id)
        self.low = Mark(at, {review_id}) if self.low is None else self.low.lower(at, review_id)

    def turn(self, next_page: str | None, reached_seen: bool) -> bool:
        """After a page: continue with `next_page` (True, more to pull now) or end the walk, the newest review
        of the walk becoming the mark."""
        if next_page is not None and not reached_seen:
            self.next = next_page
            return True
        if self.top is not None:
            self.seen = self.top if self.seen is None else _merge(self.seen, self.top)
        self.top = self.low = self.next = None
        return False


def _merge(seen: Mark, top: Mark) -> Mark:
    if top.at > seen.at:
        return top
    if top.at == seen.at:
        return Mark(seen.at, seen.ids | top.ids)
    return seen
