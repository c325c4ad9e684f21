"""PII masking applied to customer text before it leaves storage for a channel."""

from __future__ import annotations

from collections.abc import Iterable

import regex

EMAIL = regex.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digits in any script (\d is Unicode-aware: Persian ۰۹, Arabic-Indic ٠٩, Thai ๐๙, full-width ０９).
# Letters of scripts written without spaces (CJK, Thai) may touch a number directly; Latin-like ones may not.
# A number right after # or № is a ticket or order number, not a phone.
_WORDY = r"\d\p{Latin}\p{Cyrillic}\p{Greek}"
CARD = regex.compile(rf"(?<![{_WORDY}])(?:\d[ -]?){{12,18}}\d(?![{_WORDY}])")
PHONE = regex.compile(rf"(?<![{_WORDY}+(#№])(?:(?:\+|00)\s?)?\(?\d(?:[\d\s().\-]{{6,20}})\d(?![{_WORDY}])")
DATE = regex.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


def _digits(text: str) -> str:
    return "".join(str(int(ch)) for ch in text if ch.isdecimal())


def luhn_ok(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: regex.Match[str]) -> str:
    digits = _digits(match.group())
    return "[card number]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group()


def _phone(match: regex.Match[str]) -> str:
    text = match.group()
    digits = _digits(text)
    if not 8 <= len(digits) <= 15 or DATE.match(text.strip()):
        return text
    return "[phone]"


class Redactor:
    """Masks emails, payment card numbers (Luhn-checked), phone numbers and configured patterns."""

    def __init__(self, extra_patterns: Iterable[str] = ()) -> None:
        self._extra = [regex.compile(p) for p in extra_patterns]

    def __call__(self, text: str) -> str:
        text = EMAIL.sub("[email]", text)
        text = CARD.sub(_card, text)
        text = PHONE.sub(_phone, text)
        for pattern in self._extra:
            text = pattern.sub("[redacted]", text)
        return text
