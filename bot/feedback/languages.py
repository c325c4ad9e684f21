"""The language codes `lang:` accepts: every ISO 639-1 code (183, as of the 2023 list), plus a few ISO 639-3
codes for languages that have no two-letter code but turn up in customer feedback (Filipino, Cantonese,
Cebuano, Hawaiian, Hmong, Central Kurdish). Feedback items carry BCP 47 tags, whose first part is one of
these; a region or script may follow (pt-BR, zh-Hant)."""

from __future__ import annotations

import re
from functools import cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

_TWO_LETTER = """
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en
eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja
jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb
nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq
sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_TWO_LETTER.split())
THREE_LETTER = frozenset({"fil", "yue", "ceb", "haw", "hmn", "ckb"})
KNOWN = ISO_639_1 | THREE_LETTER
_SUBTAG = re.compile(r"[A-Za-z0-9]{1,8}")


def known_language(tag: str) -> bool:
    """Whether `tag` (th, fa-IR, zh_Hant) starts with a known language code; region and script parts are only
    checked for shape."""
    base, *rest = re.split(r"[-_]", tag)
    return base.lower() in KNOWN and all(_SUBTAG.fullmatch(part) for part in rest)


def language_tag(tag: str | None) -> str | None:
    """An item's language as a BCP 47 tag for markup (`lang="zh-Hant"`): stored tags may use `_` (zh_Hant)."""
    return tag.replace("_", "-") if tag else None


DETECTED = ("en", "th", "ru", "uk", "fa", "ar", "de", "fr", "es", "pt", "it", "ja", "zh", "ko", "tr", "pl", "nl",
            "vi", "id", "he")
"""The languages detection chooses among: those people here write in. Fewer candidates, fewer wrong guesses."""
MIN_CONFIDENCE = 0.7
"""Below this the text is too short or too alike in several languages (“ok”, “Super”, “thanks!”): no guess."""
DETECT_CHARS = 400
"""Enough words to tell the language; a long review costs no more than its first paragraph."""
PARALLEL_FROM = 8
"""From this many texts, lingua spreads them over its own threads (about half the time of one by one on two cores)."""
SHORT = 30
SHORT_MIN_CONFIDENCE = 0.95
"""Under SHORT characters the trigram models are sure and wrong more often (“Très bien merci” → es at 0.91)."""


@cache
def _detector() -> LanguageDetector:
    """Built on first use with every model loaded then, not by the first text in each script (low-accuracy mode:
    trigram models only, about 30 MB resident instead of 450 MB with every n-gram model, and twice as fast; short
    Latin-script text is where it errs, which the confidence threshold answers)."""
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in DETECTED]
    return (LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode()
            .with_preloaded_language_models().build())


def warm_language_detector() -> None:
    """Build the detector now (a few tenths of a second), so the first item's request doesn't wait for it."""
    _detector()


def detect_languages(texts: list[str]) -> list[str | None]:
    """Each text's ISO 639-1 code, or None when no language is confident enough (or the text is empty)."""
    results: list[str | None] = [None] * len(texts)
    wanted = [n for n, text in enumerate(texts) if text]
    if not wanted:
        return results
    detector = _detector()
    heads = [texts[n][:DETECT_CHARS] for n in wanted]
    values = (detector.compute_language_confidence_values_in_parallel(heads) if len(heads) >= PARALLEL_FROM
              else [detector.compute_language_confidence_values(head) for head in heads])
    for n, confidences in zip(wanted, values, strict=True):
        if confidences and confidences[0].value >= (SHORT_MIN_CONFIDENCE if len(texts[n]) < SHORT else MIN_CONFIDENCE):
            results[n] = confidences[0].language.iso_code_639_1.name.lower()
    return results

