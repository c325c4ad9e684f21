"""Station filters: parsed from `/station add` words, stored as JSON, matched against feedback items."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from bot.commands import UsageError, whole_number
from bot.feedback.items import SCORE_RANGES
from bot.feedback.languages import known_language
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

EVERYTHING = "all"
"""The word that subscribes a channel to every piece of feedback: a station needs it or a content filter."""
SCALES = ", ".join(f"{'ratings' if kind == 'rating' else kind.upper()} {low}–{high}"
                   for kind, (low, high) in SCORE_RANGES.items())
"""The score scales, for messages: NPS 0–10, CSAT 1–5, CES 1–7, ratings 0–5."""

FILTER_HELP = (
    "A station needs at least one content filter, or the word all for every piece of feedback (cap:, quiet: and "
    "tz: only pace what arrives). Filters (different filters must all match, except nps: and csat: where either "
    "may; commas mean or): nps:detractor|passive|promoter, score:0-6 (within the scales: "
    f"{SCALES}), csat:low|high, tag:billing, area:checkout, source:appstore, segment:enterprise, "
    "lang:th,fa (ISO 639-1 codes, a region may follow: pt-BR), "
    'keyword:"refund" (any script; bare words other than all are keywords too), '
    "cap:20 (cards per hour, the rest rolled up), "
    "quiet:22:00-08:00 with tz:Europe/Berlin (an IANA time zone, any case; held and rolled up after)."
)


@dataclass(frozen=True)
class Subscription:
    """What `/station add …` asked for: the stored filters plus delivery limits."""

    filters: dict[str, Any]
    cap_per_hour: int | None
    quiet_hours: dict[str, str] | None


def parse_words(words: list[str], default_tz: str) -> Subscription:
    """`/station add` or `/station preview` words → a subscription; refuses values that would match nothing, or
    everything by accident (a station with only cap:, quiet: or tz:)."""
    filters: dict[str, Any] = {}
    cap: int | None = None
    quiet: tuple[str, str] | None = None
    zone: str | None = None
    everything = False
    for word in words:
        key, sep, value = word.partition(":")
        if not sep:
            if casefold(word) == EVERYTHING:
                everything = True
            else:
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
            zone = canonical_zone(value)
        else:
            values = [v.strip() for v in value.split(",") if v.strip()]
            if key == "lang":
                _check_languages(values)
            filters.setdefault(LIST_KEYS[key], []).extend(values)
    _check_score_scales(filters)
    if everything and filters:
        raise UsageError(f"“{EVERYTHING}” means every piece of feedback, so it doesn't go with filters "
                         f"({describe(filters)}): keep one or the other.")
    if not everything and not filters:
        raise UsageError(f"Say what this channel should hear: at least one filter, like nps:detractor or "
                         f"area:checkout, or “{EVERYTHING}” for every piece of feedback (cap:, quiet: and tz: only "
                         f"pace what arrives).")
    if zone is not None and quiet is None:
        raise UsageError(f"tz:{zone} sets the time zone of quiet hours, and none were given: add quiet:22:00-08:00, "
                         f"or leave tz: out.")
    quiet_hours = {"start": quiet[0], "end": quiet[1], "tz": zone or default_tz} if quiet else None
    return Subscription(filters, cap, quiet_hours)


@cache
def _zones() -> dict[str, str]:
    return {casefold(name): name for name in available_timezones()}


def canonical_zone(value: str) -> str:
    """The IANA name of a time zone written in any case: europe/berlin → Europe/Berlin."""
    zone = _zones().get(casefold(value.strip()))
    if zone is None:
        close = difflib.get_close_matches(value, sorted(_zones().values()), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise UsageError(f"I don't know the time zone “{value[:60]}”.{hint} Time zones are IANA names like "
                         f"Europe/Berlin, Asia/Bangkok or UTC.")
    return zone


def _check_languages(values: list[str]) -> None:
    for value in values:
        if not known_language(value):
            raise UsageError(f"lang:{value[:40]} isn't a language code I know. lang: takes ISO 639-1 codes like "
                             f"en, th, fa, ja or pt-BR (a region may follow), several with commas: lang:th,fa.")


def _check_score_scales(filters: dict[str, Any]) -> None:
    """score: together with nps: or csat: must overlap the groups they name, or the station never sends a thing."""
    if not filters.get("score") or not (filters.get("nps") or filters.get("csat")):
        return
    low, high = filters["score"]
    groups = [(f"nps:{b}", NPS_BUCKETS[b]) for b in filters.get("nps", [])]
    groups += [(f"csat:{c}", CSAT_LEVELS[c]) for c in filters.get("csat", [])]
    if not any(g_low <= high and low <= g_high for _, (g_low, g_high) in groups):
        named = ", ".join(f"{name} ({g_low}–{g_high})" for name, (g_low, g_high) in groups)
        raise UsageError(f"score:{low:g}-{high:g} can't match {named}, so this station would never send anything: "
                         f"change or drop one of them.")


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
        raise UsageError(f"score:{value[:40]} is on no scale: score: goes from 0 to {MAX_SCORE:g} ({SCALES}), "
                         f"like score:0-6")
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


def feed_key(filters: dict[str, Any]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """Stored filters reduced to what they match (case, order, repeats and a language's region don't change it),
    so two stations that would send the same feedback compare equal."""
    key: dict[str, tuple[Any, ...]] = {}
    for name, values in filters.items():
        if name == "score":
            key[name] = tuple(values)
        elif name == "languages":
            key[name] = tuple(sorted({_base_language(v) for v in values}))
        elif values:
            key[name] = tuple(sorted({casefold(v) for v in values}))
    return tuple(sorted((name, values) for name, values in key.items() if values))


def _base_language(tag: str) -> str:
    return casefold(tag).split("-")[0].split("_")[0]


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
        languages = {_base_language(v) for v in filters.get("languages", [])}
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
                 language=_base_language(language) if language else None)


def _within(score: float | None, ranges: list[tuple[int, int]]) -> bool:
    return score is not None and any(low <= score <= high for low, high in ranges)
