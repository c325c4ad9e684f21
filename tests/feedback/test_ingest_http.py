"""`POST /api/feedback` over real HTTP: the contract's answers for good and bad input."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from storage.tables import Delivery, Feedback
from tests.support.server import Running, running_app

TOKEN = "s3cret-token"
GOOD = {"id": "a1", "source": "survey", "text": "Great support 🙏", "score": 9, "score_type": "nps"}


@pytest.fixture
async def server(db_url: str):  # type: ignore[no-untyped-def]
    async with running_app(db_url, demo=True, EARSHOT_INGEST_TOKEN=TOKEN, EARSHOT_INGEST_MAX_BYTES=20_000) as running:
        yield running


async def send(server: Running, body: bytes | str, token: str | None = TOKEN, query: str = "") -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/api/feedback{query}", data=body, headers=headers) as response:
        return response.status, await response.json()


async def stored(server: Running) -> list[Feedback]:
    async with server.runtime.db.session() as session:
        return list(await session.exec(select(Feedback)))


async def test_one_object_is_accepted_committed_and_routed(server: Running) -> None:
    status, body = await send(server, json.dumps(GOOD))
    assert (status, body) == (202, {"accepted": 1, "updated": 0, "duplicates": 0, "rejected": []})
    (item,) = await stored(server)  # 202 only after commit
    assert item.text == "Great support 🙏" and item.score == 9
    async with server.runtime.db.session() as session:
        targets = {d.target["channel_id"] for d in await session.exec(select(Delivery)) if d.subject_kind}
    assert targets == {"C-cx"}  # the demo's catch-all station; promoters don't reach #support


async def test_arrays_and_ndjson_with_partial_acceptance(server: Running) -> None:
    items = [GOOD, {"id": "a2", "source": "survey"}, {"id": "a3", "source": "survey", "text": "x", "score": "ten"},
             GOOD, "just a string",
             {"id": "a4", "source": "survey", "text": "ok", "score": 11},
             {"id": "a5", "source": "survey", "text": "ok", "score": True}]
    status, body = await send(server, json.dumps(items))
    assert status == 202
    assert body["accepted"] == 1 and body["duplicates"] == 1
    assert [(r["index"], r["error"].split(":")[0]) for r in body["rejected"]] == [
        (1, "text"), (2, "score"), (4, "an item must be a JSON object, not str"),
        (5, "score 11 is outside 0–10 for nps"), (6, "score")]
    ndjson = '{"id": "n1", "source": "s", "text": "один"}\n{broken\n\n{"id": "n2", "source": "s", "text": "二"}\n'
    status, body = await send(server, ndjson)
    assert status == 202 and body["accepted"] == 2 and body["rejected"][0]["index"] == 1
    separators = '{"id": "n3", "source": "s", "text": "line\u2028separator\u2029and next"}\r\n' \
                 '{"id": "n4", "source": "s", "text": "ok"}'  # raw U+2028/U+2029 are valid inside JSON strings
    status, body = await send(server, separators)
    assert (status, body) == (202, {"accepted": 2, "updated": 0, "duplicates": 0, "rejected": []})
    assert {f.text for f in await stored(server)} >= {"line\u2028separator\u2029and next", "ok"}


async def test_duplicates_on_source_and_id_across_requests(server: Running) -> None:
    await send(server, json.dumps(GOOD))
    _, body = await send(server, json.dumps([GOOD, {**GOOD, "source": "other"}]))
    assert body == {"accepted": 1, "updated": 0, "duplicates": 1, "rejected": []}
    assert len(await stored(server)) == 2


@pytest.mark.parametrize("body, token, status, error", [
    ("not json at all", TOKEN, 400, "not JSON"),
    ("", TOKEN, 400, "empty"),
    (json.dumps(GOOD), None, 401, "bearer token"),
    (json.dumps(GOOD), "wrong", 401, "bearer token"),
    ("x" * 30_000, TOKEN, 413, "larger than 20000 bytes"),
    (b"\xff\xfd\x00garbage", TOKEN, 400, "not UTF-8"),
])
async def test_bad_requests_are_refused_clearly(server: Running, body: str | bytes, token: str | None,
                                                status: int, error: str) -> None:
    got_status, got = await send(server, body, token)
    assert got_status == status and error in got["error"]
    assert await stored(server) == []


async def _trickle(parts: list[bytes], headers: dict[str, str], port: int) -> tuple[int, dict]:
    """A request whose body arrives in parts a moment apart, as a slow client or proxy sends it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "x", "Authorization": f"Bearer {TOKEN}", **headers,
                                                 "Connection": "close"}.items())
    writer.write(f"POST /api/feedback HTTP/1.1\r\n{head}\r\n".encode())
    for part in parts:
        writer.write(part)
        await writer.drain()
        await asyncio.sleep(0.3)
    response = await reader.read()
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2] or b"{}")


def _chunked(parts: list[bytes]) -> list[bytes]:
    return [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts] + [b"0\r\n\r\n"]


async def test_a_body_sent_in_parts_is_read_whole(server: Running) -> None:
    lines = [json.dumps({"id": f"t{n}", "source": "slow", "text": f"часть {n}"}).encode() + b"\n" for n in range(40)]
    parts = [b"".join(lines[:20]), b"".join(lines[20:])]
    port = int(server.url.rsplit(":", 1)[1])
    status, body = await _trickle(parts, {"Content-Length": str(sum(map(len, parts)))}, port)
    assert (status, body) == (202, {"accepted": 40, "updated": 0, "duplicates": 0, "rejected": []})
    more = [line.replace(b'"slow"', b'"chunked"') for line in lines]
    status, body = await _trickle(_chunked([b"".join(more[:20]), b"".join(more[20:])]),
                                  {"Transfer-Encoding": "chunked"}, port)
    assert (status, body) == (202, {"accepted": 40, "updated": 0, "duplicates": 0, "rejected": []})
    assert len(await stored(server)) == 80


async def test_a_chunked_body_over_the_limit_is_refused_whole(server: Running) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    item = json.dumps({"id": "big", "source": "s", "text": "x" * 12_000}).encode() + b"\n"
    status, body = await _trickle(_chunked([item, item]), {"Transfer-Encoding": "chunked"}, port)
    assert status == 413 and "larger than 20000 bytes" in body["error"]
    assert await stored(server) == []


async def test_mapped_sources(server: Running) -> None:
    survey = {"event_type": "survey_response.created", "event_data": {
        "id": "5435", "score": 3, "comment": "Доставка опоздала", "created_at": 1763900000,
        "permalink": "https://nps.example/r/5435", "person": {"email": "c@example.com", "name": "Olga"},
        "person_properties": {"segment": "smb", "locale": "ru"}}}
    status, body = await send(server, json.dumps(survey), query="?mapping=nps-survey")
    assert (status, body["accepted"]) == (202, 1)
    rating = {"satisfaction_rating": {"id": 35436, "score": "bad", "comment": "Took a week to answer",
                                      "created_at": "2026-11-20T10:00:00Z"}, "ticket": {"group": "billing"}}
    status, body = await send(server, json.dumps(rating), query="?mapping=helpdesk-csat")
    assert (status, body["accepted"]) == (202, 1)
    items = {i.source: i for i in await stored(server)}
    assert items["nps-survey"].score_type == "nps" and items["nps-survey"].language == "ru"
    assert items["nps-survey"].customer == {"name": "Olga", "email": "c@example.com", "segment": "smb"}
    assert items["helpdesk"].score == 1 and items["helpdesk"].score_type == "csat"
    assert items["helpdesk"].product_area == "billing"
    status, body = await send(server, json.dumps(rating), query="?mapping=nope")
    assert status == 400 and "no mapping named 'nope'" in body["error"]


async def test_ingest_is_refused_when_no_token_is_configured(db_url: str) -> None:
    async with running_app(db_url, demo=False) as running:
        status, body = await send(running, json.dumps(GOOD))
    assert status == 401 and "EARSHOT_INGEST_TOKEN" in body["error"]


async def test_configured_redaction_patterns_mask_what_reaches_channels(db_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARSHOT_REDACT_PATTERNS", json.dumps(["ORD-\\d{6}", "(?i)acct[ -]?\\d+"]))  # as deployed
    async with running_app(db_url, demo=True, EARSHOT_INGEST_TOKEN=TOKEN) as server:
        item = {**GOOD, "text": "Order ORD-123456 and Acct 99812 — mail me at ana@example.com"}
        assert (await send(server, json.dumps(item)))[0] == 202
        async with server.runtime.db.session() as session:
            cards = [json.dumps(d.card, ensure_ascii=False) for d in await session.exec(select(Delivery))
                     if d.subject_kind]
        assert cards and all("[redacted]" in c and "ORD-123456" not in c and "99812" not in c
                             and "ana@example.com" not in c for c in cards)
        assert (await stored(server))[0].text == item["text"]  # masked on the way out, stored as sent


async def test_a_configured_mapping_with_several_responses_per_payload(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "reviews.json").write_text(json.dumps({
        "items": "data.reviews",
        "fields": {"id": "review_id", "text": "body", "score": "stars", "language": "lang",
                   "product_area": {"path": "app", "map": {"ios": "mobile", "android": "mobile"}}},
        "constants": {"source": "app-reviews", "score_type": "rating"}}), encoding="utf-8")
    payload = {"data": {"reviews": [
        {"review_id": 1, "body": "แอปค้างบ่อย", "stars": 2, "lang": "th", "app": "iOS"},
        {"review_id": 2, "body": "عالی است", "stars": 5, "lang": "fa", "app": "web"},
        {"review_id": 3, "app": "web"}]}}
    async with running_app(db_url, demo=True, EARSHOT_INGEST_TOKEN=TOKEN, EARSHOT_MAPPINGS_DIR=str(tmp_path)) as server:
        status, body = await send(server, json.dumps(payload), query="?mapping=reviews")
        assert status == 202 and body["accepted"] == 2
        assert [(r["index"], r["error"].split(":")[0]) for r in body["rejected"]] == [(2, "text")]
        items = {i.external_id: i for i in await stored(server)}
    assert items["1"].product_area == "mobile" and items["1"].text == "แอปค้างบ่อย" and items["1"].score == 2
    assert items["2"].product_area == "web" and items["2"].source == "app-reviews"


DEEP = "[" * 5_000 + "]" * 5_000  # past the interpreter's recursion limit


@pytest.mark.parametrize("body, error", [
    (DEEP, "nested more than 64 levels"),
    ('{"id": 1, "source": "s", "text": "t", "score": ' + "9" * 5000 + "}", "more than 400 digits"),
    ('{"id": ' + "9" * 4301 + ', "source": "s", "text": "t"}', "more than 400 digits"),
    ('{"id": "a", "source": "s", "text": "t", "score": 1e999}', "too large"),
    ('{"id": "a", "source": "s", "text": "t", "score": NaN}', "NaN is not a JSON value"),
    (b'{"id": "a", "source": "s", "text": "\xed\xa0\x80"}', "not UTF-8"),  # a surrogate encoded as bytes
])
async def test_a_body_that_cant_be_parsed_is_a_400_with_the_reason(server: Running, body: str | bytes,
                                                                  error: str) -> None:
    status, got = await send(server, body)
    assert status == 400 and error in got["error"], got
    assert await stored(server) == []


async def test_an_ndjson_line_too_deep_or_too_long_is_rejected_alone(server: Running) -> None:
    lines = [json.dumps(GOOD), "[" * 500 + "]" * 500, '{"id": ' + "1" * 5000 + "}", json.dumps({**GOOD, "id": "b"})]
    status, body = await send(server, "\n".join(lines))
    assert status == 202 and body["accepted"] == 2
    assert [(r["index"], r["error"]) for r in body["rejected"]] == [
        (1, "the JSON is nested more than 64 levels deep"), (2, "a number has more than 400 digits")]


UNSTORABLE_ITEMS = [
    ({**GOOD, "id": "nul\u0000id"}, "id: holds U+0000 (NUL)"),
    ({**GOOD, "source": "sur\u0000vey"}, "source: holds U+0000 (NUL)"),
    ({**GOOD, "product_area": "bill\u0000ing"}, "product_area: holds U+0000 (NUL)"),
    ({**GOOD, "customer": {"segment": "smb\u0000"}}, "customer.segment: holds U+0000 (NUL)"),
    ({**GOOD, "customer": {"name": "Ana\ud800"}}, "customer.name: holds a lone surrogate U+D800"),
    ({**GOOD, "url": "https://x.example/\u0000"}, "url: holds U+0000 (NUL)"),
    ({**GOOD, "text": "lone \udc00 surrogate"}, "text: holds a lone surrogate U+DC00"),
    ({**GOOD, "tags": ["ok", "\ud83d"]}, "tags.1: holds a lone surrogate U+D83D"),
    ({**GOOD, "id": "x" * 201}, "id: String should have at most 200 characters"),
    ({**GOOD, "source": "s" * 101}, "source: String should have at most 100 characters"),
    ({**GOOD, "created_at": "0001-01-01T00:00:00+05:00"}, "created_at: is out of range once in UTC"),
]


async def test_text_storage_cant_hold_is_rejected_per_item(server: Running) -> None:
    """NUL (PostgreSQL refused it: a 503 for the whole request) and lone surrogates (neither database can
    encode one: a 500) are reported per item, with the field; the good items of the same request are stored."""
    items = [{**item, "id": item["id"] if "id" in item and item["id"] != GOOD["id"] else f"u{n}"}
             for n, (item, _) in enumerate(UNSTORABLE_ITEMS)]
    body = json.dumps([GOOD, *items, {**GOOD, "id": "last"}])  # ensure_ascii: the NULs and surrogates as \u escapes
    status, got = await send(server, body)
    assert status == 202, got
    assert got["accepted"] == 2
    assert [(r["index"], r["error"]) for r in got["rejected"]] == [
        (n + 1, error) for n, (_, error) in enumerate(UNSTORABLE_ITEMS)]
    assert sorted(f.external_id for f in await stored(server)) == ["a1", "last"]


async def test_a_bad_request_does_not_fail_good_ones_sent_at_the_same_moment(server: Running) -> None:
    """Concurrent requests share one transaction (group commit): on PostgreSQL one item with a NUL failed
    them all with 503 and Retry-After, so every sender retried for ever."""
    bad = json.dumps({**GOOD, "id": "bad", "source": "nul\u0000"})
    goods = [json.dumps({**GOOD, "id": f"g{n}"}) for n in range(8)]
    answers = await asyncio.gather(*(send(server, body) for body in [*goods[:4], bad, *goods[4:]]))
    assert [status for status, _ in answers] == [202] * 9
    assert answers[4][1]["accepted"] == 0 and answers[4][1]["rejected"][0]["error"].startswith("source: holds U+0000")
    assert all(body["accepted"] == 1 for n, (_, body) in enumerate(answers) if n != 4)
    assert sorted(f.external_id for f in await stored(server)) == sorted(f"g{n}" for n in range(8))


async def test_hostile_headers_and_mapping_names_are_refused_not_crashed(server: Running) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps(GOOD).encode()
    writer.write(b"POST /api/feedback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 401 ")  # a token that is not UTF-8 is a wrong token
    status, got = await send(server, json.dumps(GOOD), query="?mapping=" + "a" * 5000)
    assert status == 400 and "invalid mapping name" in got["error"]  # the file name was too long to look up
    huge_time = {"event_type": "survey_response.created", "event_data": {"id": "1", "comment": "c",
                                                                          "created_at": 1e300}}
    status, got = await send(server, json.dumps(huge_time), query="?mapping=nps-survey")
    assert status == 202 and got["rejected"][0]["error"].startswith("created_at:")


async def test_more_items_than_one_request_may_hold_are_refused_before_any_is_handled(db_url: str) -> None:
    """300,000 `{}` fit in 1 MB and took the server 6 s to reject one by one (other requests waited): past
    MAX_ITEMS items, or NDJSON lines, a request is refused whole with 413 and nothing is stored."""
    from adapters.ingest import MAX_ITEMS

    async with running_app(db_url, demo=False, EARSHOT_INGEST_TOKEN=TOKEN) as big:
        for body in ("[" + ",".join(["{}"] * (MAX_ITEMS + 1)) + "]", "{}\n" * (MAX_ITEMS + 1),
                     "{\n" * 300_000):
            status, answer = await send(big, body)
            assert status == 413 and f"more than {MAX_ITEMS} items" in answer["error"]
        items = [{**GOOD, "id": f"i{n}"} for n in range(MAX_ITEMS)]  # at the limit: every one handled
        status, answer = await send(big, json.dumps(items))
        assert status == 202 and answer["accepted"] == MAX_ITEMS
