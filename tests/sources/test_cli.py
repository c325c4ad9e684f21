"""`earshot sources add | list | test | remove` on SQLite and PostgreSQL, and one tool end to end: registered
with the command line, then delivering to the URL it printed, signed as Typeform signs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from adapters.cli import main
from adapters.sources.kinds import KINDS
from adapters.sources.registry import Tallies, load_registered, secret_box
from storage.engine import Database
from storage.secrets import resolve_keys, split_keys
from storage.tables import Feedback, FeedbackSource
from tests.sources.fixture_kinds import PULLED, SIGNED, URLONLY
from tests.support.server import running_app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(KINDS, "signed", SIGNED)
    monkeypatch.setitem(KINDS, "urlonly", URLONLY)
    monkeypatch.setitem(KINDS, "pulled", PULLED)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("EARSHOT_PUBLIC_URL", raising=False)
    monkeypatch.setenv("PORT", "3978")
    return db_url


def keys(db_url: str) -> tuple[str, ...]:
    """The keys the command line used: EARSHOT_SECRET_KEY's (PostgreSQL), or the SQLite file's."""
    return resolve_keys(db_url, split_keys(os.environ.get("EARSHOT_SECRET_KEY")))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["sources", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(db_url: str) -> list[FeedbackSource]:
    async def read() -> list[FeedbackSource]:
        db = Database(db_url)
        try:
            async with db.session() as session:
                return list(await session.exec(select(FeedbackSource)))
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_add_prints_the_url_and_setup_and_stores_secrets_apart(cli: str, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("EARSHOT_PUBLIC_URL", "https://earshot.example.com/")
    welcome = tmp_path / "welcome.txt"
    welcome.write_text("\ufeffhello from a file\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("key-from-stdin\n"))
    code, out, err = run(capsys, "add", "signed", "tool-a", "--secret", "whsec-1", "--api-key", "-",
                         "--welcome", str(welcome))
    assert code == 0, err
    assert "URL: https://earshot.example.com/api/sources/tool-a\n" in out
    assert "Paste the URL into Settings → Webhooks." in out and "EARSHOT_PUBLIC_URL" not in err
    (row,) = rows(cli)
    assert row.kind == "signed" and "whsec-1" not in row.secrets and "key-from-stdin" not in row.secrets
    assert row.options == {"api_url": "https://api.example.invalid", "welcome": "hello from a file\n"}
    box = secret_box(keys(cli))
    registered = asyncio.run(_registered(cli, box))
    assert dict(registered["tool-a"].config.secrets) == {"secret": "whsec-1", "api_key": "key-from-stdin"}


async def _registered(db_url: str, box: object) -> dict:
    db = Database(db_url)
    try:
        return await load_registered(db, box)  # type: ignore[arg-type]
    finally:
        await db.dispose()


def test_a_secret_url_is_printed_with_its_token_and_listed_again(cli: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "add", "urlonly", "hook")
    assert code == 0
    (url,) = re.findall(r"URL: (\S+)", out)
    assert re.fullmatch(r"http://localhost:3978/api/sources/hook/[A-Za-z0-9_-]{43}", url)
    assert "EARSHOT_PUBLIC_URL is not set" in err
    code, out, _ = run(capsys, "list")
    assert code == 0 and f"URL: {url}" in out
    assert "last delivery: none yet" in out
    assert "0 accepted · 0 updated · 0 duplicates · 0 rejected · 0 refused" in out


@pytest.mark.parametrize("argv, message", [
    (["add", "nosuchtool", "x"], "invalid choice: 'nosuchtool'"),
    (["add", "signed", "tool-a"], "the following arguments are required: --secret"),
])
def test_an_unknown_kind_lists_the_kinds_and_a_missing_option_is_named(
        cli: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sources", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    if "nosuchtool" in argv:
        assert all(name in err for name in ("signed", "urlonly", "typeform"))


def test_bad_and_duplicate_names_are_refused_clearly(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "add", "urlonly", "My Survey")
    assert code == 2 and "lowercase letters" in err and "(e.g. my-survey)" in err
    assert run(capsys, "add", "urlonly", "survey")[0] == 0
    code, _, err = run(capsys, "add", "signed", "survey", "--secret", "s")
    assert code == 2 and "a source named survey already exists" in err
    assert [r.kind for r in rows(cli)] == ["urlonly"]


def test_list_shows_counts_last_delivery_and_last_error(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "add", "signed", "tool-a", "--secret", "s")[0] == 0

    async def deliver() -> None:
        db = Database(cli)
        try:
            (registered,) = (await load_registered(db, secret_box(keys(cli)))).values()
            tallies = Tallies()
            now = datetime.now(UTC)
            tallies.count(registered.id, now, accepted=5, updated=2, duplicates=1, rejected=1, refused=7)
            tallies.received(registered.id, now)
            tallies.failed(registered.id, now, "refused: the X-Test-Signature does not match")
            await tallies.flush(db)
        finally:
            await db.dispose()

    asyncio.run(deliver())
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert "tool-a (signed)\n  URL: http://localhost:3978/api/sources/tool-a\n" in out
    assert "last 24 h: 5 accepted · 2 updated · 1 duplicates · 1 rejected · 7 refused" in out
    assert re.search(r"last delivery: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+ s ago\)", out)
    assert "refused: the X-Test-Signature does not match" in out


def test_test_shows_what_a_payload_would_become_without_storing(cli: str, capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    assert run(capsys, "add", "signed", "tool-a", "--secret", "s")[0] == 0
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"items": [{"id": "r1", "text": "Zu langsam", "score": 3, "score_type": "csat"},
                                             {"id": "r2", "score": 99}], "fetch": ["resp-9"]}))
    code, out, _ = run(capsys, "test", "tool-a", str(payload))
    assert code == 1  # an item would be rejected
    assert 'item 1: {"id": "r1", "text": "Zu langsam", "score": 3.0, "score_type": "csat"}' in out
    assert "item 2: rejected: score 99 is outside 0–10 for nps" in out
    assert "would fetch from Signed Test Tool's API: response resp-9" in out
    assert "nothing was stored" in out
    payload.write_text("not json")
    code, _, err = run(capsys, "test", "tool-a", str(payload))
    assert code == 1 and "the body is not JSON" in err
    assert run(capsys, "test", "nobody", str(payload))[0] == 2
    assert run(capsys, "test", "tool-a", str(tmp_path / "missing.json"))[0] == 2

    async def count() -> int:
        db = Database(cli)
        try:
            async with db.session() as session:
                return len(list(await session.exec(select(Feedback))))
        finally:
            await db.dispose()

    assert asyncio.run(count()) == 0


def test_a_pulled_source_has_no_url_to_paste(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "add", "pulled", "reviews")
    assert code == 0 and "URL" not in out and "EARSHOT_PUBLIC_URL" not in err
    assert "pulled by the worker about every 60 min\nCreate an API key.\n" in out
    code, out, _ = run(capsys, "list")
    assert "reviews (pulled)\n  last delivery: none yet" in out
    code, _, err = run(capsys, "test", "reviews", __file__)
    assert code == 2 and "it is pulled from the tool's API" in err


def test_remove_forgets_the_source(cli: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "add", "urlonly", "hook")[0] == 0
    code, out, _ = run(capsys, "remove", "hook")
    assert code == 0 and "removed hook" in out
    assert rows(cli) == []
    code, _, err = run(capsys, "remove", "hook")
    assert code == 2 and "no source named hook" in err
    assert "no sources yet" in run(capsys, "list")[1]


def test_typeform_end_to_end_through_the_printed_url(cli: str, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The published example payload, signed as Typeform signs it, to the URL `sources add` printed."""
    secret = "typeform-webhook-secret"
    code, out, err = run(capsys, "add", "typeform", "tf-nps", "--secret", secret,
                         "--score-ref", "readable_ref_opinion_scale", "--comment-ref", "readable_ref_short_text")
    assert code == 0, err
    path = re.search(r"URL: http://localhost:3978(\S+)", out).group(1)  # type: ignore[union-attr]
    body = (FIXTURES / "typeform" / "example_payload.json").read_bytes()
    signature = "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()

    async def deliver() -> tuple[int, int, list[Feedback]]:
        async with running_app(cli) as server, aiohttp.ClientSession() as session:
            statuses = []
            for sig in (signature, "sha256=" + base64.b64encode(b"x" * 32).decode()):
                async with session.post(f"{server.url}{path}", data=body, headers={
                        "Typeform-Signature": sig, "Content-Type": "application/json"}) as response:
                    statuses.append(response.status)
            async with server.runtime.db.session() as db_session:
                return statuses[0], statuses[1], list(await db_session.exec(select(Feedback)))

    good, forged, stored = asyncio.run(deliver())
    assert (good, forged) == (202, 401)
    (item,) = stored
    assert item.source == "tf-nps" and item.score is not None
    code, out, _ = run(capsys, "list")
    assert "1 accepted" in out and "1 refused" in out


@pytest.mark.parametrize("value, base", [(None, "http://localhost:4000"),
                                         (" https://earshot.example.com/ ", "https://earshot.example.com"),
                                         ("http://10.0.0.5:8080/earshot", "http://10.0.0.5:8080/earshot")])
def test_the_public_url_starts_every_printed_url(value: str | None, base: str) -> None:
    from bot.config import load_settings

    settings = load_settings(PORT=4000, **({"EARSHOT_PUBLIC_URL": value} if value else {}))
    assert settings.public_base_url == base


@pytest.mark.parametrize("value", ["earshot.example.com", "ftp://x", "https://x/?a=1", "https://x/#top", "https://"])
def test_a_public_url_that_is_no_address_is_a_config_error(value: str) -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="EARSHOT_PUBLIC_URL: must be the server's address"):
        load_settings(EARSHOT_PUBLIC_URL=value)
