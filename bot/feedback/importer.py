"""`earshot import FILE`: CSV, JSON or NDJSON files, in UTF-8 or UTF-16 with or without a BOM, through the same
validation as the webhook."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.feedback.items import BadBody, parse_body
from bot.json_input import BadJSON, decode

CUSTOMER_COLUMNS = ("name", "email", "segment", "plan", "country")


def detect_format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower().lstrip(".")
    return {"csv": "csv", "ndjson": "ndjson", "jsonl": "ndjson"}.get(suffix, "json")


def read_items(path: Path, file_format: str) -> list[Any]:
    """Every raw item of the file, in order (validation happens later, item by item)."""
    data = path.read_bytes()
    if file_format == "ndjson":
        return parse_body(data)
    try:
        text = decode(data)  # UTF-8 or UTF-16 (Google Play Console's review export), BOM or not
    except BadJSON as error:
        raise BadBody(f"{path.name}: {str(error).replace('the body', 'the file')}") from None
    if file_format == "csv":
        return [csv_row(row) for row in csv.DictReader(io.StringIO(text, newline=""))]
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise BadBody(f"{path.name} is not JSON: {error}") from None
    return parsed if isinstance(parsed, list) else [parsed]


def csv_row(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV row as an ingest item: blank cells dropped, `tags` split on ; or ,, `customer_*` nested."""
    item: dict[str, Any] = {}
    for column, raw in row.items():
        if column is None or raw is None or not raw.strip():
            continue
        key, value = column.strip().lower(), raw.strip()
        for prefix in ("customer_", "customer."):
            if key.startswith(prefix) and key[len(prefix):] in CUSTOMER_COLUMNS:
                item.setdefault("customer", {})[key[len(prefix):]] = value
                break
        else:
            if key == "tags":
                item["tags"] = [t.strip() for t in value.replace(";", ",").split(",") if t.strip()]
            elif key == "score":
                item["score"] = _number(value)
            else:
                item[key] = value
    return item


def _number(value: str) -> float | str:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return value  # validation rejects it with the field named


def batches(items: list[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
    for start in range(0, len(items), size):
        yield start, items[start:start + size]
