"""JSON that came from outside, read with limits: a hostile body (nested thousands deep, a number of a million
digits, bytes that are not UTF-8, text a database cannot hold) becomes a `BadJSON` with a reason for a 400,
never a RecursionError or an overflow further in. Every HTTP route that takes JSON reads it through `loads`."""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
"""Arrays and objects inside one another; Earshot's own payloads (activities, cards, items) use under 20."""
MAX_NUMBER_DIGITS = 400
"""Digits in one JSON number: far beyond any id or score (a float holds 17), far below the 4,300 where Python
refuses to convert an int at all."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""NUL (PostgreSQL text can't hold it) and lone surrogates (not encodable as UTF-8); decoded JSON pairs
surrogates up, so any left here stand alone."""
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJSON(ValueError):
    """The body is not JSON Earshot accepts; the message says why, in words a sender can act on."""


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH, storable: bool = True) -> Any:
    """Parse one JSON document (UTF-8 or UTF-16, see `decode`; a BOM is ignored). With `storable`, a string
    holding NUL or a lone surrogate refuses the whole document; without it the caller checks strings itself (the
    ingest does, item by item, so one bad item does not refuse its neighbours)."""
    text = decode(raw)
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise BadJSON(f"the JSON is nested more than {max_depth} levels deep") from None
    except json.JSONDecodeError as error:
        raise BadJSON(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    problem = _problem(data, max_depth, storable)
    if problem:
        raise BadJSON(problem)
    return data


def decode(raw: bytes | str) -> str:
    """The text of a body in UTF-8, or in UTF-16 (Windows tools and some exports write it) told by its BOM or,
    without one, by the NUL bytes beside ASCII characters (JSON and CSV start with one); without its BOM."""
    if isinstance(raw, bytes):
        encoding = text_encoding(raw)
        try:
            raw = raw.decode(encoding)
        except UnicodeDecodeError as error:
            raise BadJSON(f"the body is not {encoding.upper().removesuffix('-LE').removesuffix('-BE')} text "
                          f"(byte {error.start})") from None
    return raw.removeprefix("\ufeff")


def text_encoding(raw: bytes) -> str:
    """utf-16-le / utf-16-be by a BOM or by the NUL byte pattern of ASCII text in UTF-16; else utf-8."""
    if raw.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if raw.startswith(b"\xfe\xff"):
        return "utf-16-be"
    head = raw[:4]
    if len(head) == 4 and head[0] and not head[1] and head[2] and not head[3]:
        return "utf-16-le"
    if len(head) == 4 and not head[0] and head[1] and not head[2] and head[3]:
        return "utf-16-be"
    return "utf-8"


def unstorable(text: str, *, nul: bool = True) -> str | None:
    """Why `text` can't be stored (a lone surrogate, or NUL unless `nul` is False), or None."""
    found = (_UNSTORABLE if nul else _SURROGATE).search(text)
    if found is None:
        return None
    return "holds U+0000 (NUL)" if found.group() == "\x00" else f"holds a lone surrogate U+{ord(found.group()):04X}"


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise BadJSON(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(digits)


def _float(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise BadJSON(f"a number is too large to hold: {digits[:20]}")
    return value


def _constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON value")


def _problem(data: Any, max_depth: int, storable: bool) -> str | None:
    """The first reason to refuse a parsed document, walking it without recursion."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= max_depth:
                return f"the JSON is nested more than {max_depth} levels deep"
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
            if storable and isinstance(value, dict):
                stack.extend((key, depth + 1) for key in value)
        elif storable and isinstance(value, str) and (why := unstorable(value)):
            return f"a string {why}, which can't be stored"
    return None
