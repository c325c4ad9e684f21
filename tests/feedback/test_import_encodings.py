"""Files and bodies in UTF-8 or UTF-16, with or without a BOM (Google Play Console exports reviews as UTF-16
CSV), read the same; text in another encoding is refused with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from bot.feedback.importer import read_items
from bot.feedback.items import BadBody
from storage.tables import Feedback
from tests.support.server import running_app

THAI = "แอปค้างทุกครั้งที่จ่ายเงิน"
PERSIAN = "پشتیبانی خیلی سریع بود، ممنون"
CSV = f'id,source,text,score,score_type\n1,play,"{THAI}",2,rating\n2,play,"{PERSIAN}, عالی",5,rating\n'
ITEMS = [{"id": "1", "source": "play", "text": THAI, "score": 2, "score_type": "rating"},
         {"id": "2", "source": "play", "text": f"{PERSIAN}, عالی", "score": 5, "score_type": "rating"}]
ENCODINGS = {  # name → how the text becomes bytes
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8 with BOM": lambda t: t.encode("utf-8-sig"),
    "utf-16 LE with BOM": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf-16 BE with BOM": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "utf-16 LE": lambda t: t.encode("utf-16-le"),
    "utf-16 BE": lambda t: t.encode("utf-16-be"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name, text", [("reviews.csv", CSV), ("reviews.json", json.dumps(ITEMS, ensure_ascii=False)),
                                        ("reviews.ndjson", "\n".join(json.dumps(i, ensure_ascii=False)
                                                                     for i in ITEMS) + "\n")])
def test_every_format_reads_in_every_encoding(tmp_path: Path, encoding: str, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_bytes(ENCODINGS[encoding](text))
    items = read_items(path, {"csv": "csv", "json": "json", "ndjson": "ndjson"}[name.split(".")[1]])
    assert [(i["id"], i["text"], float(i["score"])) for i in items] == [(i["id"], i["text"], i["score"])
                                                                       for i in ITEMS]


def test_a_file_in_another_encoding_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,source,text\n1,s,Très bien\n".encode("latin-1"))
    with pytest.raises(BadBody, match=r"latin1\.csv: the file is not UTF-8 text"):
        read_items(path, "csv")


def test_earshot_import_reads_a_utf16_play_console_export(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "reviews_202612.csv"
    path.write_bytes(ENCODINGS["utf-16 LE with BOM"](CSV))
    done = subprocess.run([sys.executable, "-m", "adapters.cli", "import", str(path)], capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": db_url}, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "accepted 2, updated 0, duplicates 0, rejected 0" in done.stdout


@pytest.mark.parametrize("encoding", ["utf-16 LE with BOM", "utf-16 BE"])
async def test_the_webhook_takes_a_utf16_body(db_url: str, encoding: str) -> None:
    body = ENCODINGS[encoding](json.dumps(ITEMS, ensure_ascii=False))
    async with running_app(db_url, demo=False, EARSHOT_INGEST_TOKEN="t0ken") as server:
        async with aiohttp.ClientSession() as session, session.post(
                f"{server.url}/api/feedback", data=body, headers={"Authorization": "Bearer t0ken"}) as response:
            assert response.status == 202 and (await response.json())["accepted"] == 2
        async with server.runtime.db.session() as session:
            stored = {f.external_id: (f.text, f.language) for f in await session.exec(select(Feedback))}
    assert stored == {"1": (THAI, "th"), "2": (f"{PERSIAN}, عالی", "fa")}
