"""Every signed kind refuses what it cannot check: a blank or missing secret (an HMAC keyed with "" is one anyone
can compute), and a signature header holding a byte that is not UTF-8 (a refusal, not a traceback in the log).
`earshot sources add` and `add_source` refuse a blank secret in the first place."""

from __future__ import annotations

import asyncio
import base64
import hmac
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict
from sqlmodel import select

from adapters.cli import main
from adapters.sources.base import Delivery, Refused, SourceConfig
from adapters.sources.kinds import KINDS
from adapters.sources.registry import add_source, seal_secrets, secret_box
from storage.engine import Database
from storage.tables import Feedback, FeedbackSource
from tests.support.server import running_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"
WHEN = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
STAMP = "2026-12-07T12:00:00Z"


def _hex(algorithm: str, prefix: str = "") -> Callable[[str, bytes], str]:
    return lambda key, raw: prefix + hmac.new(key.encode(), raw, algorithm).hexdigest()


def _b64(algorithm: str, prefix: str = "") -> Callable[[str, bytes], str]:
    return lambda key, raw: prefix + base64.b64encode(hmac.new(key.encode(), raw, algorithm).digest()).decode()


# Each kind's signature header and scheme, as the tool documents it (see each kind's own test module).
SCHEMES: dict[str, tuple[str, Callable[[str, bytes], str]]] = {
    "typeform": ("Typeform-Signature", _b64("sha256", "sha256=")),
    "delighted": ("X-Delighted-Webhook-Signature", _hex("sha256", "sha256=")),
    "intercom": ("X-Hub-Signature", _hex("sha1", "sha1=")),
    "survicate": ("Hmac", _hex("sha256")),
    "helpscout": ("X-HelpScout-Signature", _b64("sha1")),
    "surveymonkey": ("Sm-Signature", lambda secret, raw: _b64("sha1")(f"api-key-1&{secret}", raw)),
    "zendesk": ("X-Zendesk-Webhook-Signature", lambda secret, raw: _b64("sha256")(secret, STAMP.encode() + raw)),
}
OPTIONS = {"surveymonkey": {"api_key": "api-key-1"}, "typeform": {"score_ref": "x"}}


def delivery(kind: str, raw: bytes, signature: str, extra: dict[str, str] | None = None) -> Delivery:
    headers = CIMultiDict({SCHEMES[kind][0]: signature, **(extra or {})})
    if kind == "zendesk":
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = STAMP
    return Delivery("POST", headers, raw, {}, WHEN, "application/json")


def config(kind: str, secrets: dict[str, str]) -> SourceConfig:
    return SourceConfig(name="s", kind=kind, secrets=secrets, options=OPTIONS.get(kind, {}))


@pytest.mark.parametrize("kind", sorted(SCHEMES))
@pytest.mark.parametrize("secrets", [{"secret": ""}, {"secret": "  "}, {}], ids=["empty", "blank", "missing"])
def test_a_blank_or_missing_secret_refuses_even_a_body_signed_with_that_key(kind: str,
                                                                            secrets: dict[str, str]) -> None:
    raw = b'{"anything": "at all"}'
    signature = SCHEMES[kind][1](secrets.get("secret", ""), raw)
    with pytest.raises(Refused):
        KINDS[kind].verify(delivery(kind, raw, signature), config(kind, secrets))  # type: ignore[misc]


def test_zendesk_refuses_a_blank_bearer_token_too() -> None:
    given = Delivery("POST", CIMultiDict({"Authorization": "Bearer  "}), b"{}", {}, WHEN, "application/json")
    with pytest.raises(Refused):
        KINDS["zendesk"].verify(given, config("zendesk", {"bearer": " "}))  # type: ignore[misc]


# aiohttp decodes header bytes with surrogateescape: b"\xff" arrives as "\udcff".
@pytest.mark.parametrize("kind", sorted(SCHEMES))
def test_a_signature_header_with_a_non_utf8_byte_is_refused(kind: str) -> None:
    raw = b"{}"
    prefix = {"typeform": "sha256=", "delighted": "sha256=", "intercom": "sha1="}.get(kind, "")
    with pytest.raises(Refused):
        KINDS[kind].verify(delivery(kind, raw, prefix + "\udcff\udcfe"), config(kind, {"secret": "k"}))  # type: ignore[misc]


@pytest.mark.parametrize(("kind", "header", "secrets"), [
    ("zendesk", "Authorization", {"bearer": "b"}),
    ("survicate", "Token", {"secret": "k", "token": "t"}),
    ("surveymonkey", "Sm-Apikey", {"secret": "k"}),
])
def test_other_checked_headers_with_a_non_utf8_byte_are_refused(kind: str, header: str,
                                                                 secrets: dict[str, str]) -> None:
    raw = b"{}"
    value = "Bearer \udcff" if header == "Authorization" else "\udcff"
    with pytest.raises(Refused):
        KINDS[kind].verify(delivery(kind, raw, SCHEMES[kind][1]("k", raw), {header: value}),  # type: ignore[misc]
                           config(kind, secrets))


async def _raw_post(url: str, path: str, header: bytes, body: bytes = b"{}") -> bytes:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + header
                 + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer.split(b"\r\n", 1)[0]


async def test_a_non_utf8_signature_byte_over_http_is_a_401_and_no_traceback(
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    sent = [("typeform", b"Typeform-Signature: sha256=\xff\xfe", {"secret": "s"}),
            ("delighted", b"X-Delighted-Webhook-Signature: sha256=\xff", {"secret": "s"}),
            ("intercom", b"X-Hub-Signature: sha1=\xff", {"secret": "s"}),
            ("helpscout", b"X-HelpScout-Signature: \xff", {"secret": "s"}),
            ("zendesk", b"Authorization: Bearer \xff", {"bearer": "b"})]
    async with running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        for kind, _, secrets in sent:
            await add_source(running.runtime.db, box, KINDS[kind], f"{kind}-1", secrets, OPTIONS.get(kind, {}))
        caplog.set_level(logging.INFO)
        for kind, header, _ in sent:
            assert await _raw_post(running.url, f"/api/sources/{kind}-1", header) == b"HTTP/1.1 401 Unauthorized"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PORT", "3978")
    return db_url


async def _sources(db_url: str) -> list[FeedbackSource]:
    db = Database(db_url)
    try:
        async with db.session() as session:
            return list(await session.exec(select(FeedbackSource)))
    finally:
        await db.dispose()


@pytest.mark.parametrize(("kind", "argv", "flag"), [
    ("typeform", ["--secret", "", "--score-ref", "x"], "--secret"),
    ("delighted", ["--secret", "   "], "--secret"),
    ("intercom", ["--secret", "-"], "--secret"),
    ("survicate", ["--secret", "whsec-1", "--token", " "], "--token"),
])
def test_the_command_line_refuses_a_blank_secret(cli_db: str, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, kind: str, argv: list[str],
                                                 flag: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))  # `--secret -` given an empty line
    code = main(["sources", "add", kind, f"{kind}-x", *argv])
    err = capsys.readouterr().err
    assert code != 0
    assert f"{flag} is empty" in err
    assert asyncio.run(_sources(cli_db)) == []


async def test_add_source_refuses_a_blank_secret(db_url: str) -> None:
    async with running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        for secrets in ({"secret": ""}, {"secret": "\t "}, {"secret": "ok-secret", "token": ""}):
            with pytest.raises(ValueError, match="is empty"):
                await add_source(running.runtime.db, box, KINDS["survicate"], "sv", secrets, {})
        async with running.runtime.db.session() as session:
            assert list(await session.exec(select(FeedbackSource))) == []


async def test_a_row_stored_with_an_empty_secret_refuses_a_forged_delivery(db_url: str) -> None:
    """The red team's PoC: a source stored (before add refused it) with secret "", and a Typeform delivery signed
    with the empty key, as anyone could sign it. Now 401, nothing stored."""
    raw = (FIXTURES / "typeform" / "example_payload.json").read_bytes()
    async with running_app(db_url, demo=False) as running:
        box = secret_box(running.runtime.core.services.keys)
        async with running.runtime.db.write() as session:
            session.add(FeedbackSource(name="typeform-x", kind="typeform", secrets=seal_secrets(box, {"secret": ""}),
                                       options={"score_ref": "readable_ref_rating"}))
            await session.commit()
        headers = {"Typeform-Signature": SCHEMES["typeform"][1]("", raw), "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http, http.post(f"{running.url}/api/sources/typeform-x", data=raw,
                                                               headers=headers) as answer:
            assert answer.status == 401, await answer.text()
        async with running.runtime.db.session() as session:
            assert list(await session.exec(select(Feedback))) == []
