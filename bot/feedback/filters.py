"""Station filters: parsed from `/station add` words, stored as JSON, matched against feedback items."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.commands import UsageError, whole_number
from bot.feedback.items import SCORE_RANGES
from bot.text import casefold

NPS_BUCKETS = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}
CSAT_LEVELS = {"low": (1, 2), "neutral": (3, 3), "high": (4, 5)}
LIST_KEYS = {"tag": "tags", "area": "areas", "source": "sources", "segment": "segments", "lang": "languages",
             "keyword": "keywords"}
ALIASES = {"tags": "tag", "product": "area", "product_area": "area", "sources": "source", "language": "lang",
           "kw": "keyword", "keywords": "keyword", "segments": "segment"}
KEYS = ("nps", "score", "csat", *LIST_KEYS, "cap", "quiet", "tz")
MAX_CAP = 1000
MAX_SCORE = max(high for _, high in SCORE_RANGES.values())

FILTER_HELP = (
    "Filters (optional; different filters must all match, except nps: and csat: where either may; commas "
    "mean or): nps:detractor|passive|promoter, score:0-6, "
    "csat:low|high, tag:billing, area:checkout, source:appstore, segment:enterprise, lang:th,fa, "
    'keyword:"refund" (any script; bare words are keywords too), cap:20 (cards per hour, the rest rolled up), '
    "quiet:22:00-08:00 with tz:Europe/Berlin (held and rolled up after)."
)


@dataclass(frozen=True)
class Subscription:
    """What `/station add …` asked for: the stored filters plus delivery limits."""

    filters: dict[str, Any]
    cap_per_hour: int | None
    quiet_hours: dict[str, str] | None


def parse_words(words: list[str], default_tz: str) -> Subscription:
    filters: dict[str, Any] = {}
    cap: int | None = None
    quiet: tuple[str, str] | None = None
    zone = default_tz
    for word in words:
        key, sep, value = word.partition(":")
        if not sep:
            filters.setdefault("keywords", []).append(word)
            continue
        key = ALIASES.get(key.lower(), key.lower())
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]}:{value}?" if close else ""
            raise UsageError(f"I don't know the filter “{key}:”.{hint}")
        if not value:
            raise UsageError(f"{key}: needs a value, like {key}:{_example(key)}")
        if key == "nps":
            filters["nps"] = _choices(value, NPS_BUCKETS, "nps")
        elif key == "csat":
            filters["csat"] = _choices(value, CSAT_LEVELS, "csat")
        elif key == "score":
            filters["score"] = _range(value)
        elif key == "cap":
            cap = whole_number(value, 1, MAX_CAP)
            if cap is None:
                raise UsageError(f"cap: takes a number of cards per hour from 1 to {MAX_CAP}, like cap:20")
        elif key == "quiet":
            quiet = _quiet(value)
        elif key == "tz":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise UsageError(f"unknown timezone {value!r}; use a name like Europe/Berlin") from None
            zone = value
        else:
            values = [v.strip() for v in value.split(",") if v.strip()]
            filters.setdefault(LIST_KEYS[key], []).extend(values)
    quiet_hours = {"start": quiet[0], "end": quiet[1], "tz": zone} if quiet else None
    return Subscription(filters, cap, quiet_hours)


def _example(key: str) -> str:
    return {"nps": "detractor", "csat": "low", "score": "0-6", "cap": "20", "quiet": "22:00-08:00",
            "tz": "Europe/Berlin"}.get(key, "billing")


def _choices(value: str, known: dict[str, tuple[int, int]], key: str) -> list[str]:
    chosen = [v.strip().lower().rstrip("s") for v in value.split(",") if v.strip()]
    for choice in chosen:
        if choice not in known:
            raise UsageError(f"{key}: takes {', '.join(known)} (not “{choice}”)")
    return chosen


def _range(value: str) -> list[float]:
    low, sep, high = value.partition("-")
    try:
        bounds = [float(low), float(high if sep else low)]
    except ValueError:
        raise UsageError(f"score: takes a number or a range like 0-6 (not “{value[:40]}”)") from None
    if not all(0 <= bound <= MAX_SCORE for bound in bounds):  # also refuses nan and inf
        raise UsageError(f"score: goes from 0 to {MAX_SCORE:g}, like 0-6")
    if bounds[0] > bounds[1]:
        raise UsageError("score: the range must go from low to high, like 0-6")
    return bounds


def _quiet(value: str) -> tuple[str, str]:
    start, sep, end = value.partition("-")
    try:
        if not sep:
            raise ValueError
        return time.fromisoformat(_hhmm(start)).strftime("%H:%M"), time.fromisoformat(_hhmm(end)).strftime("%H:%M")
    except ValueError:
        raise UsageError("quiet: takes hours like 22:00-08:00") from None


def _hhmm(text: str) -> str:
    text = text.strip()
    return f"{int(text):02d}:00" if text.isdigit() else text


def describe(filters: dict[str, Any]) -> str:
    """Human words for stored filters: “NPS detractors · area checkout · keywords “refund””."""
    parts: list[str] = []
    if filters.get("nps"):
        parts.append("NPS " + "/".join(f"{b}s" for b in filters["nps"]))
    if filters.get("csat"):
        parts.append("CSAT " + "/".join(filters["csat"]))
    if filters.get("score"):
        low, high = filters["score"]
        parts.append(f"score {low:g}" if low == high else f"score {low:g}–{high:g}")
    for key, label in (("tags", "tag"), ("areas", "area"), ("sources", "source"), ("segments", "segment"),
                       ("languages", "language")):
        if filters.get(key):
            parts.append(f"{label} " + " or ".join(filters[key]))
    if filters.get("keywords"):
        parts.append("keywords " + " or ".join(f"“{k}”" for k in filters["keywords"]))
    return " · ".join(parts) or "all feedback"


Check = Callable[["Probe"], bool]


class Matcher:
    """Stored filters compiled once into the checks they need, then tested against many items (routing runs
    it per item × station, so a station filtering on one area costs one set lookup)."""

    def __init__(self, filters: dict[str, Any]) -> None:
        sets = {key: frozenset(casefold(v) for v in filters.get(key, [])) for key in
                ("tags", "areas", "sources", "segments")}
        self.areas = sets["areas"]
        """The product areas an item must be in (empty: any), for routing's index by area."""
        checks: list[Check] = []
        nps = [NPS_BUCKETS[b] for b in filters.get("nps", [])]
        csat = [CSAT_LEVELS[c] for c in filters.get("csat", [])]
        if nps or csat:  # nps:detractor csat:low means unhappy on either scale
            checks.append(lambda i: (i.score_type == "nps" and _within(i.score, nps))
                          or (i.score_type == "csat" and _within(i.score, csat)))
        if filters.get("score"):
            low, high = filters["score"]
            checks.append(lambda i: i.score is not None and low <= i.score <= high)
        if sets["tags"]:
            checks.append(lambda i: not sets["tags"].isdisjoint(i.tags))
        if self.areas:
            checks.append(lambda i: i.product_area in self.areas)
        if sets["sources"]:
            checks.append(lambda i: i.source in sets["sources"])
        if sets["segments"]:
            checks.append(lambda i: i.segment in sets["segments"])
        languages = {casefold(v).split("-")[0].split("_")[0] for v in filters.get("languages", [])}
        if languages:
            checks.append(lambda i: i.language in languages)
        keywords = [casefold(k) for k in filters.get("keywords", [])]
        if keywords:  # substring search: right for scripts written without spaces (Thai, Japanese, Chinese) too
            checks.append(lambda i: any(k in i.folded_text for k in keywords))
        self._checks = tuple(checks)

    def __call__(self, item: Probe) -> bool:
        return all(check(item) for check in self._checks)


@dataclass(frozen=True, slots=True)
class Probe:
    """An item as matching sees it: text fields case-folded once, the language reduced to its base."""

    source: str
    folded_text: str
    score: float | None
    score_type: str | None
    tags: frozenset[str]
    product_area: str | None
    segment: str | None
    language: str | None


def probe(source: str, text: str, score: float | None, score_type: str | None, tags: list[str],
          product_area: str | None, segment: str | None, language: str | None) -> Probe:
    return Probe(source=casefold(source), folded_text=casefold(text), score=score, score_type=score_type,
                 tags=frozenset(casefold(t) for t in tags),
                 product_area=casefold(product_area) if product_area else None,
                 segment=casefold(segment) if segment else None,
                 language=casefold(language).split("-")[0].split("_")[0] if language else None)


def _within(score: float | None, ranges: list[tuple[int, int]]) -> bool:
    return score is not None and any(low <= score <= high for low, high in ranges)
