"""Every CSV file Earshot writes, made safe to open in a spreadsheet program.

Cells hold what people wrote (comments, prompts, choice labels, customers' product areas). A spreadsheet reads
a cell that starts with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(…)` sends data away, `=cmd|…` runs
programs), and tab or carriage return before one hides it. As OWASP recommends, such a text cell gets a single
quote in front, which the spreadsheet shows as text; separators and quotes inside a cell are quoted by the csv
module. Line feeds and the full-width forms of those characters (read as formulas by some East Asian
spreadsheet versions) are treated alike. This is the last step before writing, after any cleaning a caller
does. Numbers (int, float, Decimal values) are written as numbers, so -3 stays -3.

The file is UTF-8 with a byte order mark: without it, some spreadsheet programs read Thai, Persian or Cyrillic
as mojibake."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

Cell = str | int | float | Decimal | date | datetime | None
Number = int | float | Decimal

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
"""OWASP's list (https://owasp.org/www-community/attacks/CSV_Injection), plus line feed and full-width forms."""
MIME = "text/csv"


def safe_cell(value: Cell) -> str | Number:
    """A value as it may go into a cell: numbers as numbers, text neutralised when a spreadsheet would run it."""
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int to Python, but not a number to a reader
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return value
    text = value.isoformat() if isinstance(value, date) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """A whole CSV file: the header, then each row, every cell through safe_cell; UTF-8 with a BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return (BOM + buffer.getvalue()).encode("utf-8")


def read_csv(data: bytes) -> list[list[str]]:
    """The rows of a file csv_bytes wrote (header first), for counting and checking them."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
