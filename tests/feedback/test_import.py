"""`earshot import FILE`: CSV, JSON and NDJSON, the same validation as the webhook, re-import a no-op."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_import(db_url: str, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "adapters.cli", "import", str(path), *extra], capture_output=True,
                          text=True, env=env, timeout=120, cwd=path.parent)


@pytest.mark.parametrize("name, content", [
    ("items.csv", "id,source,text,score,score_type,tags,customer_segment\n"
                  "1,csv,\"Great app, ขอบคุณ\",9,nps,\"a;b\",smb\n2,csv,,,nps,,\n3,csv,\"Плохо\",abc,nps,,\n"),
    ("items.json", json.dumps([{"id": 1, "source": "csv", "text": "Great app, ขอบคุณ", "score": 9},
                               {"id": 2, "source": "csv"}, {"id": 3, "source": "csv", "text": "x", "score": "abc"}])),
    ("items.ndjson", '{"id": 1, "source": "csv", "text": "Great app"}\n{"id": 2}\nnot json\n'),
])
def test_import_validates_reports_and_is_idempotent(db_url: str, tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    first = run_import(db_url, path)
    assert first.returncode == 0, first.stderr
    assert "accepted 1, updated 0, duplicates 0, rejected 2" in first.stdout
    assert "item 2: " in first.stdout and "importing" in first.stderr
    again = run_import(db_url, path)
    assert "accepted 0, updated 0, duplicates 1, rejected 2" in again.stdout


def test_import_refuses_missing_files_and_unknown_mappings(db_url: str, tmp_path: Path) -> None:
    missing = run_import(db_url, tmp_path / "nope.csv")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    path = tmp_path / "x.json"
    path.write_text("[]", encoding="utf-8")
    unknown = run_import(db_url, path, "--mapping", "zzz")
    assert unknown.returncode == 2 and "no mapping named 'zzz'" in unknown.stderr
