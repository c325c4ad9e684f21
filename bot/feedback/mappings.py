"""Declarative field mappings for sources whose JSON looks different from Earshot's ingest format.

A mapping is a JSON file: `fields` maps each Earshot field (dotted for nested ones, like `customer.email`) to
a dotted path in the source's payload, or to `{"path": ..., "map": {...}}` / `{"path": ..., "unix": true}`;
`constants` sets fixed values (such as `source` and `score_type`); `items` optionally names the path of a
list holding several responses. See docs/ingest.md for the two worked examples shipped here.

`"unix": true` reads a number (or a string of one) as a unix time: in seconds, unless as seconds it would fall
after the year 9999, in which case it is plainly milliseconds (JavaScript's `Date.now()`, 1733580000000) and read
so. Anything else there (text, true, a number out of range either way) rejects that item alone, with a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BUILT_IN = Path(__file__).with_name("mappings")


class MappingError(ValueError):
    pass


@dataclass(frozen=True)
class Mapping:
    name: str
    fields: dict[str, Any]
    constants: dict[str, Any]
    items: str | None = None

    def explode(self, payload: Any) -> list[Any]:
        """The responses inside one payload (a single one unless `items` names a list)."""
        if self.items is None:
            return [payload]
        found = _get(payload, self.items)
        return found if isinstance(found, list) else [payload]

    def apply(self, payload: Any) -> Any:
        """Translate one source response into an ingest item; leaves non-objects for validation to refuse.
        Raises ValueError (naming the field) when a value can't be translated: only that item is rejected."""
        if not isinstance(payload, dict):
            return payload
        item: dict[str, Any] = {}
        for target, rule in self.fields.items():
            try:
                value = _extract(payload, rule)
            except ValueError as error:
                raise ValueError(f"{target}: {error}") from None
            if value is not None:
                _put(item, target, value)
        for target, value in self.constants.items():
            _put(item, target, value)
        return item


def _get(payload: Any, path: str) -> Any:
    value = payload
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _extract(payload: Any, rule: Any) -> Any:
    if isinstance(rule, str):
        return _get(payload, rule)
    value = _get(payload, rule["path"])
    if value is None:
        return None
    if "map" in rule:
        return rule["map"].get(str(value).lower(), value)
    if rule.get("unix"):
        return _unix(value)
    return value


def _unix(value: Any) -> str:
    """A unix time in seconds, or in milliseconds where seconds would pass the year 9999, as ISO 8601 UTC."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or number != number:  # NaN
        raise ValueError(f"{str(value)[:40]!r} is not a unix time (a number of seconds or milliseconds)")
    for per_second in (1, 1000):
        try:
            return datetime.fromtimestamp(number / per_second, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            continue
    raise ValueError(f"{str(value)[:40]} is out of range as a unix time in seconds or milliseconds")


def _put(item: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        item = item.setdefault(part, {})
        if not isinstance(item, dict):  # the mapping also puts a value at `part` itself
            raise ValueError(f"{dotted}: {part} already holds a value, not an object")
    item[leaf] = value


def load_mapping(name: str, extra_dir: Path | None = None) -> Mapping:
    """A mapping by name: the configured folder first, then the built-in examples."""
    if len(name) > 100 or not name.replace("-", "").replace("_", "").isalnum():  # longer: no file can have it
        raise MappingError(f"invalid mapping name {name[:100]!r}")
    for folder in (extra_dir, BUILT_IN):
        if folder is not None and (folder / f"{name}.json").is_file():
            data = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
            return Mapping(name=name, fields=data["fields"], constants=data.get("constants", {}),
                           items=data.get("items"))
    known = sorted(p.stem for p in BUILT_IN.glob("*.json"))
    raise MappingError(f"no mapping named {name!r} (built in: {', '.join(known)})")
