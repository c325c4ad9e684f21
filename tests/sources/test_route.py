"""`/api/sources/<name>[/<token>]` over real HTTP, on SQLite and PostgreSQL: a tool's signed delivery is stored
under the source's name; everything an attacker might try (a wrong signature, a guessed name or token, a flood,
a body too large, odd methods and paths) gets the same short answer, is counted where a source is known, and
stores nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from adapters.sources.kinds import KINDS
from adapters.sources.registry import add_source, remove_source, secret_box
from adapters.sources.route import REFUSED
from bot.feedback.sources import Counts, source_views
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import Feedback, FeedbackSource, SourceTally
from tests.sources.fixture_kinds import SIGNATURE, SIGNED, URLONLY, sign
from tests.support.server import Running, running_app
from tests.support.vendors import Reply, fake_vendor

SECRET = "whsec-test-0123456789"
LIMIT = 20_000


@pytest.fixture
async def server(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    monkeypatch.setitem(KINDS, "signed", SIGNED)
    monkeypatch.setitem(KINDS, "urlonly", URLONLY)
    async with running_app(db_url, EARSHOT_INGEST_MAX_BYTES=LIMIT) as running:
        yield running


async def register(server: Running, kind: object, name: str, **secrets: str) -> str | None:
    options = {"api_url": secrets.pop("api_url")} if "api_url" in secrets else {}
    return await add_source(server.runtime.db, secret_box(server.runtime.core.services.keys), kind,  # type: ignore[arg-type]
                            name, secrets, options)


async def post(server: Running, path: str, body: bytes, headers: dict[str, str] | None = None,
               method: str = "POST") -> tuple[int, dict | str, aiohttp.typedefs.LooseHeaders]:
    async with aiohttp.ClientSession() as session, session.request(
            method, f"{server.url}{path}", data=body, headers=headers or {}) as response:
        text = await response.text()
        try:
            answer: dict | str = json.loads(text)
        except ValueError:
            answer = text
        return response.status, answer, response.headers


def signed(body: dict, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {SIGNATURE: sign(secret, raw), "Content-Type": "application/json"}


async def stored(server: Running) -> list[Feedback]:
    async with server.runtime.db.session() as session:
        return list(await session.exec(select(Feedback)))


async def counts(server: Running, name: str) -> tuple[Counts, FeedbackSource]:
    await server.runtime.source_tallies.flush(server.runtime.db)
    async with server.runtime.db.session() as session:
        views = {v.name: v for v in await source_views(session, secret_box(server.runtime.core.services.keys),
                                                        utcnow())}
        row = (await session.exec(select(FeedbackSource).where(FeedbackSource.name == name))).one()
    return views[name].counts, row


ITEM = {"id": "r1", "source": "someone-else", "text": "Checkout was slow", "score": 4, "score_type": "csat"}


async def test_a_signed_delivery_is_stored_under_the_sources_name_and_counted(server: Running) -> None:
    await register(server, SIGNED, "tool-a", secret=SECRET)
    status, answer, _ = await post(server, "/api/sources/tool-a", *signed({"items": [ITEM]}))
    assert (status, answer) == (202, {"accepted": 1, "updated": 0, "duplicates": 0, "rejected": []})
    (item,) = await stored(server)
    assert (item.source, item.external_id, item.text, item.score) == ("tool-a", "r1", "Checkout was slow", 4)
    status, answer, _ = await post(server, "/api/sources/tool-a", *signed({"items": [ITEM, {"id": "r2", "score": 99}]}))
    assert status == 202 and answer["duplicates"] == 1 and len(answer["rejected"]) == 1  # type: ignore[index]
    edited = {**ITEM, "text": "Checkout was slow, then it crashed"}
    status, answer, _ = await post(server, "/api/sources/tool-a", *signed({"items": [edited]}))
    assert status == 202 and answer["updated"] == 1  # type: ignore[index]
    tally, row = await counts(server, "tool-a")
    assert (tally.accepted, tally.updated, tally.duplicates, tally.rejected, tally.refused) == (1, 1, 1, 1, 0)
    assert row.last_received_at is not None
    assert row.last_error == "1 item(s) rejected, e.g. item 2 of the delivery: score 99 is outside 0–10 for nps"


async def test_refusals_look_the_same_from_outside_and_are_counted_inside(server: Running) -> None:
    await register(server, SIGNED, "tool-a", secret=SECRET)
    token = await register(server, URLONLY, "hook")
    assert token and len(token) >= 43
    body, headers = signed({"items": [ITEM]})
    attempts = {
        "wrong signature": ("/api/sources/tool-a", body, {**headers, SIGNATURE: sign("guess", body)}),
        "no signature": ("/api/sources/tool-a", body, {}),
        "a kind's bug in its check": ("/api/sources/tool-a", body, {SIGNATURE: "explode"}),
        "a token on a signed source": (f"/api/sources/tool-a/{token}", body, headers),
        "unknown name": ("/api/sources/tool-b", body, headers),
        "wrong token": ("/api/sources/hook/" + "A" * 43, b"id=1&text=hi", {}),
        "token of another length": ("/api/sources/hook/x", b"id=1&text=hi", {}),
        "no token": ("/api/sources/hook", b"id=1&text=hi", {}),
    }
    for why, (path, raw, extra) in attempts.items():
        status, answer, response_headers = await post(server, path, raw, extra)
        assert (status, answer) == (401, REFUSED), why
        assert "Set-Cookie" not in response_headers
    assert await stored(server) == []
    tally, row = await counts(server, "tool-a")
    assert tally.refused == 4 and tally.accepted == 0
    assert row.last_error is not None and row.last_error.startswith("refused: ") and SECRET not in row.last_error
    assert (await counts(server, "hook"))[0].refused == 3


async def test_the_secret_url_delivers_with_its_token(server: Running) -> None:
    token = await register(server, URLONLY, "hook")
    status, answer, _ = await post(server, f"/api/sources/hook/{token}", b"id=7&text=Great+app",
                                   {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 202 and answer["accepted"] == 1  # type: ignore[index]
    (item,) = await stored(server)
    assert (item.source, item.external_id, item.text) == ("hook", "7", "Great app")


async def test_a_flood_of_wrong_signatures_is_refused_counted_exactly_and_never_stored(server: Running) -> None:
    await register(server, SIGNED, "tool-a", secret=SECRET)
    body = json.dumps({"items": [ITEM]}).encode()
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        async def attempt(n: int) -> int:
            async with session.post(f"{server.url}/api/sources/tool-a", data=body,
                                    headers={SIGNATURE: f"{n:064x}"}) as response:
                return response.status

        statuses = await asyncio.gather(*(attempt(n) for n in range(300)))
    elapsed = time.perf_counter() - started
    assert set(statuses) == {401}
    assert await stored(server) == []
    assert (await counts(server, "tool-a"))[0].refused == 300
    assert elapsed < 20, f"300 refusals took {elapsed:.1f} s"


async def test_a_body_over_the_limit_is_refused_before_it_is_read(server: Running) -> None:
    await register(server, SIGNED, "tool-a", secret=SECRET)
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST /api/sources/tool-a HTTP/1.1\r\nHost: {host}\r\nContent-Length: {LIMIT * 100}\r\n"
                 "Content-Type: application/json\r\n\r\n".encode())  # the body never follows
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert b" 413 " in status_line

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(LIMIT // 1000 + 5):
            yield b"x" * 1000

    for path in ("/api/sources/tool-a", "/api/sources/nobody"):
        async with aiohttp.ClientSession() as session, session.post(f"{server.url}{path}", data=chunks()) as r:
            assert r.status == 413


async def test_handshakes_answer_200_and_other_methods_405_known_or_not(server: Running) -> None:
    await register(server, SIGNED, "tool-a", secret=SECRET)
    token = await register(server, URLONLY, "hook")
    assert (await post(server, "/api/sources/tool-a", b"", method="HEAD"))[0] == 200
    assert (await post(server, f"/api/sources/hook/{token}", b"", method="GET"))[:2] == (200, "")
    status, _, headers = await post(server, "/api/sources/tool-a", b"", method="GET")
    assert (status, headers["Allow"]) == (405, "HEAD, POST") or (status, headers["Allow"]) == (405, "POST, HEAD")
    for path, method in (("/api/sources/hook/wrong", "GET"), ("/api/sources/hook", "GET"),
                         ("/api/sources/nobody", "GET"), ("/api/sources/nobody", "HEAD"),
                         ("/api/sources/hook/" + str(token), "PUT"), ("/api/sources/tool-a", "DELETE")):
        status, _, headers = await post(server, path, b"", method=method)
        assert status == 405, (path, method)
        if "nobody" in path or path.endswith("/wrong") or path == "/api/sources/hook":
            assert headers["Allow"] == "POST", (path, method)


@pytest.mark.parametrize("path", [
    "/api/sources/..%2F..%2Fhealthz", "/api/sources/%2E%2E", "/api/sources/tool-a%00", "/api/sources/TOOL-A",
    "/api/sources/" + quote("ｔｏｏｌ-ａ"), "/api/sources/tool-a%0D%0ASet-Cookie:%20a=b",
    "/api/sources/" + "a" * 5000, "/api/sources/tool-a/..%2Ftool-a",
])
async def test_odd_names_are_refused_like_unknown_ones(server: Running, path: str) -> None:
    await register(server, SIGNED, "tool-a", secret=SECRET)
    body, headers = signed({"items": [ITEM]})
    status, answer, response_headers = await post(server, path, body, headers)
    if path.endswith("%2E%2E"):  # normalised to /api/ before any route sees it
        assert status == 404
    else:
        assert (status, answer) == (401, REFUSED)
    assert "Set-Cookie" not in response_headers and "a=b" not in str(response_headers)
    assert await stored(server) == []


async def test_a_bad_payload_is_a_400_with_the_reason_and_a_kinds_bug_is_not_a_500(server: Running) -> None:
    await register(server, SIGNED, "tool-a", secret=SECRET)
    raw = b"not json"
    status, answer, _ = await post(server, "/api/sources/tool-a", raw, {SIGNATURE: sign(SECRET, raw)})
    assert (status, answer) == (400, {"error": "the body is not JSON"})
    status, answer, _ = await post(server, "/api/sources/tool-a", *signed({"crash": True}))
    assert status == 400 and "can't read" in answer["error"]  # type: ignore[index]
    tally, row = await counts(server, "tool-a")
    assert tally.rejected == 2 and row.last_error is not None and row.last_error.startswith("bad payload")


async def test_responses_named_by_an_event_are_fetched_with_the_shared_session(server: Running) -> None:
    answer_body = {"id": "resp-9", "text": "Answers behind the API", "score": 9}
    async with fake_vendor({"/responses/resp-9": Reply(200, answer_body)}) as vendor:
        await register(server, SIGNED, "tool-a", secret=SECRET, api_key="key-abcdef", api_url=vendor.url)
        status, answer, _ = await post(server, "/api/sources/tool-a", *signed({"fetch": ["resp-9"]}))
        assert status == 202 and answer["accepted"] == 1  # type: ignore[index]
        assert vendor.seen[0].headers["Authorization"] == "Bearer key-abcdef"
    (item,) = await stored(server)
    assert (item.source, item.external_id, item.text) == ("tool-a", "resp-9", "Answers behind the API")


async def test_a_failing_vendor_api_is_a_503_the_tool_retries_with_no_secret_in_the_error(server: Running) -> None:
    async with fake_vendor({"/responses/r1": Reply(500, {}), "/responses/r2": Reply(429, {},
                                                                                        {"Retry-After": "42"})}) as v:
        await register(server, SIGNED, "tool-a", secret=SECRET, api_key="key-abcdef", api_url=v.url)
        status, answer, headers = await post(server, "/api/sources/tool-a", *signed({"fetch": ["r1"]}))
        assert status == 503 and "key-abcdef" not in json.dumps(answer) and headers["Retry-After"] == "60"
        status, answer, headers = await post(server, "/api/sources/tool-a", *signed({"fetch": ["r2"]}))
        assert status == 503 and headers["Retry-After"] == "42"
    status, _, headers = await post(server, "/api/sources/tool-a", *signed({"fetch": ["r3"]}))  # vendor gone
    assert status == 503 and "Retry-After" in headers
    assert await stored(server) == []
    _, row = await counts(server, "tool-a")
    assert row.last_error is not None and "key-abcdef" not in row.last_error and SECRET not in row.last_error


async def test_add_and_remove_take_effect_within_a_second(server: Running) -> None:
    body, headers = signed({"items": [ITEM]})
    assert (await post(server, "/api/sources/late", body, headers))[0] == 401  # read: no such source
    await register(server, SIGNED, "late", secret=SECRET)
    started = time.monotonic()
    while (await post(server, "/api/sources/late", body, headers))[0] != 202:
        assert time.monotonic() - started < 1.5
        await asyncio.sleep(0.05)
    assert await remove_source(server.runtime.db, "late")
    started = time.monotonic()
    while (await post(server, "/api/sources/late", body, headers))[0] != 401:
        assert time.monotonic() - started < 1.5
        await asyncio.sleep(0.05)


async def test_counts_reach_the_database_on_their_own_and_at_shutdown(db_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "signed", SIGNED)
    async with running_app(db_url) as running:
        await register(running, SIGNED, "tool-a", secret=SECRET)
        body = json.dumps({"items": [ITEM]}).encode()
        assert (await post(running, "/api/sources/tool-a", body, {SIGNATURE: "0"}))[0] == 401
        deadline = time.monotonic() + 3
        while not await refused_in(running.runtime.db):
            assert time.monotonic() < deadline, "the tally was not written within 3 s"
            await asyncio.sleep(0.1)
        assert (await post(running, "/api/sources/tool-a", body, {SIGNATURE: "0"}))[0] == 401
    db = Database(db_url)  # the app has stopped: its last counts were written as it stopped
    try:
        assert await refused_in(db) == 2
    finally:
        await db.dispose()


async def refused_in(db: Database) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.coalesce(func.sum(SourceTally.refused), 0)))).one())


@pytest.mark.parametrize("header", [b"X-Test-Signature: \xff\xfe", b"X-Test-Signature: a\x00b",
                                    b"X-Test-Signature: a\r\n b", b"Typeform-Signature: sha256=\xc3\x28"])
async def test_header_bytes_no_one_sends_are_a_4xx_never_a_5xx(server: Running, header: bytes) -> None:
    await register(server, SIGNED, "tool-a", secret=SECRET)
    body = json.dumps({"items": [ITEM]}).encode()
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /api/sources/tool-a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header +
                 f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    status = int(status_line.split()[1])
    assert 400 <= status < 500, status_line
    assert await stored(server) == []
