"""Hostile bodies to every HTTP route of the real app, on SQLite and PostgreSQL: random JSON (nested thousands
deep, numbers of thousands of digits, NUL, lone surrogates, wrong types, huge strings), each route's own fields
filled with such values, wrong content types and random bytes. Whatever arrives, the answer is never a 5xx, and
nothing the server keeps in memory grows with what clients send.

One server per test (not per example); hypothesis runs in a worker thread and speaks plain HTTP to it, while
the server runs on the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.slack import signing
from tests.slack.fake_api import fake_slack
from tests.support.server import Running, running_app
from tests.teams.fake_connector import running_connector

EXAMPLES = int(os.environ.get("EARSHOT_HOSTILE_EXAMPLES", "60"))
"""Examples per route; CI keeps the default (about a minute per database for the whole file)."""
GROWTH = 48
"""How much any in-memory collection of the app may grow over a run that sends hundreds of distinct keys."""
TOKEN = "hostile-ingest-token"
PEOPLE = ("ana", "ben", "mei", "maria", "priya", "sam")
CHANNELS = ("C-general", "C-cx", "C-product", "C-support")
COMMANDS = ("/pulse help", "/pulse results 99999999999999999999", '/pulse "x" scale close:99999999999d',
            '/pulse "Q?" yes-no to:#cx-feedback', "/pulse list", "/pulse export 1", "/station list",
            "/station add #cx-feedback area:checkout", "/station preview", "/digest preview", "/digest send",
            "/pulse close 9223372036854775808", "/station remove -1", "/unknown", "/", "/pulse " + "9" * 5000)
HOSTILE_CHARS = st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\n", "\t", "\ufeff", "\U0001f600", '"'])

settings.register_profile("hostile", max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
HOSTILE = settings.get_profile("hostile")


# -- values --------------------------------------------------------------------------------------------
def mostly(good: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any], odds: int = 3) -> st.SearchStrategy[Any]:
    """Good values `odds` times out of one more, so requests get past the first check and into the handlers."""
    return st.sampled_from((good,) * odds + (hostile,)).flatmap(lambda chosen: chosen)


TEXT = mostly(st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40),
              st.text(st.characters() | HOSTILE_CHARS, max_size=40) | st.sampled_from(
                  ["", " ", "x" * 70_000, "\x00", "\ud800", "a\ud83db", "null", "0"]), odds=7)
NUMBERS = st.one_of(st.integers(), st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
                    st.floats(allow_nan=True, allow_infinity=True))
JSON = st.recursive(st.none() | st.booleans() | NUMBERS | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=10)


def dumps(value: Any, ascii_only: bool) -> bytes:
    """JSON bytes; with `ascii_only` False, lone surrogates are written raw (bytes that are not UTF-8)."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


def nested(depth: int, kind: str) -> bytes:
    return (b"[" * depth + b"]" * depth) if kind == "[" else (b'{"a":' * depth + b"1" + b"}" * depth)


HUGE_NUMBERS = st.sampled_from([b"9" * 4301, b"-" + b"1" * 5000, b"1e999", b"-1e400", b"NaN", b"Infinity",
                                b"1" * 400 + b".5", b"0." + b"0" * 5000 + b"1"])


def bodies(shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """A route's own payload with hostile values, or anything else a client could send."""
    own = st.tuples(shaped, mostly(st.just(True), st.just(False))).map(lambda v: dumps(*v))
    return mostly(own, st.one_of(
        st.tuples(JSON, st.booleans()).map(lambda v: dumps(*v)),
        st.tuples(st.integers(30, 50_000), st.sampled_from("[{")).map(lambda v: nested(*v)),
        st.tuples(shaped, HUGE_NUMBERS).map(lambda v: _with_number(*v)),
        st.binary(max_size=300),
        st.sampled_from([b"", b"{", b"\xef\xbb\xbf{}", b'{"a": 1}{"b": 2}', b"[]", b"null", b'"\\u0000"'])))


def _with_number(value: Any, number: bytes) -> bytes:
    """The payload with one number in it that JSON allows (or nearly: NaN) but no parser should take."""
    if isinstance(value, dict) and value:
        key = next(iter(value))
        return dumps({**value, key: "@@"}, True).replace(b'"@@"', number, 1)
    return b"[" + number + b"]"


CONTENT_TYPES = mostly(st.just("application/json"), st.sampled_from([
    "text/plain", "application/x-www-form-urlencoded", "", "application/xml", "multipart/form-data; boundary=x",
    "application/json; charset=latin-1", "application/json\x7f", "APPLICATION/JSON"]))


# -- the client ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class Client:
    """Blocking HTTP for hypothesis' thread: any bytes, any headers, nothing normalised on the way."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._headers = headers or {}

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=60)
        try:
            headers = {**self._headers, **(headers or {})}
            connection.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value.encode("utf-8", "surrogatepass"))
            if method != "GET" or body:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return Answer(response.status, response.read())
        finally:
            connection.close()


def no_5xx(answer: Answer, what: object) -> None:
    assert answer.status < 500, f"{answer.status} {answer.body[:300]!r} for {str(what)[:600]}"


async def hypothesis_run(test: Callable[[], None]) -> None:
    """Hypothesis in a worker thread: its requests are served by this thread's event loop meanwhile."""
    await asyncio.to_thread(test)


# -- what must not grow --------------------------------------------------------------------------------
def collection_sizes(root: object, depth: int = 4) -> dict[str, int]:
    """len() of every dict, list, set and sized container held by Earshot's own objects reachable from `root`
    (the runtime: its workspace, platforms, core, caches), by attribute path."""
    sizes: dict[str, int] = {}
    seen: set[int] = set()

    def visit(obj: object, path: str, left: int) -> None:
        if id(obj) in seen or left < 0:
            return
        seen.add(id(obj))
        if isinstance(obj, dict | list | set | frozenset | tuple) or (hasattr(obj, "__len__") and _ours(obj)):
            with contextlib.suppress(TypeError):
                sizes[path] = len(obj)  # type: ignore[arg-type]
        if isinstance(obj, dict):
            for key, value in list(obj.items())[:20]:
                if _ours(value):
                    visit(value, f"{path}[{key!r}]", left - 1)
            return
        if isinstance(obj, list | tuple | set | frozenset):
            for n, value in enumerate(list(obj)[:20]):
                if _ours(value):
                    visit(value, f"{path}[{n}]", left - 1)
            return
        if not _ours(obj):
            return
        fields = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                fields[slot] = getattr(obj, slot)
        for name, value in fields.items():
            if isinstance(value, dict | list | set | frozenset | tuple) or _ours(value):
                visit(value, f"{path}.{name}", left - 1)

    visit(root, "runtime", depth)
    return sizes


def _ours(obj: object) -> bool:
    return type(obj).__module__.split(".")[0] in ("adapters", "bot", "storage")


def assert_bounded(before: dict[str, int], after: dict[str, int]) -> None:
    grown = {path: (before.get(path, 0), size) for path, size in after.items() if size - before.get(path, 0) > GROWTH}
    assert not grown, f"grew with what clients sent (before, after): {grown}"


@pytest.fixture
async def sandbox(db_url: str) -> AsyncIterator[tuple[Running, Client]]:
    async with running_app(db_url, demo=True, EARSHOT_INGEST_TOKEN=TOKEN) as running:
        session = await running.sandbox_session()
        headers = {"Cookie": "; ".join(f"{c.key}={c.value}" for c in session.cookie_jar),
                   "Origin": running.url, "Host": urlsplit(running.url).netloc}
        await session.close()
        yield running, Client(running.url, headers)


# -- the routes ----------------------------------------------------------------------------------------
def sandbox_payloads(message_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    ids = mostly(st.sampled_from(message_ids or ["1"]), st.integers(-5, 10**25).map(str) | JSON)
    return st.fixed_dictionaries({
        "as": mostly(st.sampled_from(PEOPLE), JSON), "channel_id": mostly(st.sampled_from(CHANNELS), TEXT),
        "text": mostly(st.sampled_from(COMMANDS), TEXT), "message_id": ids}, optional={
        "thread_id": ids, "action_id": TEXT | st.sampled_from(["pulse:answer", "station:claim", "feedback:claim"]),
        "value": TEXT | st.lists(TEXT, max_size=3) | JSON, "emoji": mostly(st.sampled_from(["eyes", "+1"]), TEXT),
        "added": mostly(st.booleans(), JSON), "form_id": TEXT | st.sampled_from(["pulse:create", "station:add"]),
        "values": st.dictionaries(TEXT, TEXT | st.lists(TEXT, max_size=3), max_size=4) | JSON,
        "client_id": TEXT, "metadata": TEXT | st.sampled_from(['{"channel_id": "C-support"}'])})


async def some_messages(client: Client) -> list[str]:
    """Ids of messages in the demo's channels (feedback cards with buttons, a plain message): actions and
    reactions that name them reach the handlers."""
    items = [{"id": f"h{n}", "source": "hostile", "text": f"Checkout broke {n}", "score": 2} for n in range(3)]
    ingest = {"Authorization": f"Bearer {TOKEN}", "Origin": "", "Cookie": ""}
    assert (await asyncio.to_thread(client.request, "POST", "/api/feedback", dumps(items, True), ingest)).status == 202
    sent = dumps({"as": "ana", "channel_id": "C-cx", "text": "hello"}, True)
    assert (await asyncio.to_thread(client.request, "POST", "/sandbox/api/send", sent,
                                    {"Content-Type": "application/json"})).status == 200
    for _ in range(100):
        state = json.loads((await asyncio.to_thread(client.request, "GET", "/sandbox/api/state?as=ana")).body)
        ids = sorted({str(m["id"]) for m in state["messages"]})
        if len(ids) >= 4:
            return ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"the feedback cards did not arrive: {ids}")


async def test_sandbox_routes_answer_hostile_bodies_without_a_5xx(sandbox: tuple[Running, Client]) -> None:
    running, client = sandbox
    message_ids = await some_messages(client)
    workspace_before = collection_sizes(running.runtime)
    paths = st.sampled_from(["/sandbox/api/send", "/sandbox/api/action", "/sandbox/api/reaction", "/sandbox/api/form"])

    @HOSTILE
    @given(path=paths, body=bodies(sandbox_payloads(message_ids)), content_type=CONTENT_TYPES)
    def post(path: str, body: bytes, content_type: str) -> None:
        no_5xx(client.request("POST", path, body, {"Content-Type": content_type}), (path, content_type, body))

    @HOSTILE
    @given(who=TEXT | st.sampled_from(PEOPLE))
    def state_as(who: str) -> None:
        query = quote(who, safe="", errors="surrogatepass")
        for path in (f"/sandbox/api/state?as={query}", "/sandbox/api/state?as=ana", "/sandbox/api/state?as=ben"):
            no_5xx(client.request("GET", path), path)  # after every kind of message: the page still loads

    await hypothesis_run(post)
    await hypothesis_run(state_as)
    assert_bounded(workspace_before, collection_sizes(running.runtime))


def ingest_items() -> st.SearchStrategy[Any]:
    item = st.fixed_dictionaries({"id": TEXT | st.integers(), "source": TEXT | st.just("s"), "text": TEXT}, optional={
        "score": NUMBERS | JSON, "score_type": st.sampled_from(["nps", "csat", "ces", "rating"]) | TEXT,
        "customer": st.fixed_dictionaries({}, optional={"segment": TEXT, "name": TEXT, "email": TEXT}) | JSON,
        "tags": st.lists(TEXT, max_size=60) | JSON, "product_area": TEXT, "language": TEXT | st.just("en"),
        "url": TEXT.map(lambda t: "https://x.example/" + t) | TEXT,
        "created_at": TEXT | NUMBERS | st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])})
    return item | st.lists(item, max_size=5)


async def test_ingest_and_health_answer_hostile_bodies_without_a_5xx(db_url: str) -> None:
    async with running_app(db_url, demo=False, EARSHOT_INGEST_TOKEN=TOKEN) as running:
        client = Client(running.url, {"Authorization": f"Bearer {TOKEN}"})
        before = collection_sizes(running.runtime)
        mappings = st.sampled_from(["", "?mapping=nps-survey", "?mapping=helpdesk-csat", "?mapping=" + "a" * 300,
                                    "?mapping=%00", "?mapping=..%2Fx"])

        @HOSTILE
        @given(body=bodies(ingest_items()) | ndjson(), query=mappings, content_type=CONTENT_TYPES)
        def post(body: bytes, query: str, content_type: str) -> None:
            no_5xx(client.request("POST", "/api/feedback" + query, body, {"Content-Type": content_type}),
                   (query, body))
            no_5xx(client.request("GET", "/healthz"), "/healthz")

        await hypothesis_run(post)
        assert_bounded(before, collection_sizes(running.runtime))


def ndjson() -> st.SearchStrategy[bytes]:
    return st.lists(bodies(ingest_items()), min_size=2, max_size=4).map(lambda lines: b"\n".join(lines))


def activities(service_url: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    account = st.fixed_dictionaries({"id": TEXT | st.sampled_from(["29:ana", "29:ben"])},
                                    optional={"name": TEXT, "aadObjectId": TEXT}) | JSON
    return st.fixed_dictionaries({
        "type": st.sampled_from(["message", "invoke", "conversationUpdate", "messageReaction",
                                 "installationUpdate"]) | TEXT,
        "serviceUrl": service_url,
        "from": account,
        "conversation": st.fixed_dictionaries({"id": TEXT | st.just("a:1")}, optional={
            "conversationType": st.sampled_from(["personal", "channel", "groupChat"]) | TEXT,
            "tenantId": TEXT, "isGroup": JSON}) | JSON,
    }, optional={
        "id": TEXT, "channelId": st.sampled_from(["msteams", "emulator"]) | TEXT, "recipient": account,
        "text": st.sampled_from([c.lstrip("/") for c in COMMANDS]) | TEXT, "value": JSON,
        "name": st.sampled_from(["adaptiveCard/action", "task/fetch", "task/submit", "fileConsent/invoke"]) | TEXT,
        "channelData": JSON | st.fixed_dictionaries({"tenant": st.fixed_dictionaries({"id": TEXT})}),
        "membersAdded": st.lists(account, max_size=3), "replyToId": TEXT, "entities": st.lists(JSON, max_size=2),
        "attachments": st.lists(JSON, max_size=2), "timestamp": TEXT | NUMBERS, "locale": TEXT})


SERVICE_URL_SHAPES = st.sampled_from([{}, {"id": None}, [{}], None, 5, "file:///etc/passwd", "ftp://127.0.0.1/", "x",
                                      "http:///v3", "http://[::1/"])
PAGES = st.sampled_from([{}, {}, {}, {"Origin": "http://evil.example"}, {"Origin": "null"},
                         {"Host": "attacker.example"}])
"""Headers of a web page's request (or a DNS-rebound one), which the emulator refuses."""


async def test_teams_messages_answer_hostile_bodies_without_a_5xx(db_url: str) -> None:
    async with running_connector() as connector, running_app(db_url, demo=False,
                                                              EARSHOT_TEAMS_EMULATOR="1") as running:
        client = Client(running.url)
        before = collection_sizes(running.runtime)
        not_json = f"{connector.url}no/such/"  # answers every Bot Connector call with a text/plain 404
        service_urls = st.one_of(st.just(connector.url), st.integers(0, 10**6).map(lambda n: f"{connector.url}s{n}/"),
                                 st.just(not_json), SERVICE_URL_SHAPES, TEXT)
        content_types = CONTENT_TYPES | st.just("text/plain; application/json")

        @HOSTILE
        @given(body=bodies(activities(service_urls)), content_type=content_types, page=PAGES)
        def post(body: bytes, content_type: str, page: dict[str, str]) -> None:
            answer = client.request("POST", "/api/messages", body, {"Content-Type": content_type, **page})
            if answer.status == 502:  # the turn's reply went to the 404 page: a bad gateway, said as such
                assert not_json.encode() in body and b"serviceUrl" in answer.body, answer
            else:
                no_5xx(answer, body)
            refused_by_parser = answer.status == 400 and not content_type.isprintable()  # aiohttp's, before the app
            if page and answer.status != 415 and not refused_by_parser:
                assert answer.status == 403, (answer, page)

        await hypothesis_run(post)
        await asyncio.sleep(0.5)  # replies the turns queued are on their way to the fake connector
        assert_bounded(before, collection_sizes(running.runtime))


def slack_requests(response_url: str) -> st.SearchStrategy[tuple[bytes, str]]:
    """Bodies as Slack sends them (commands, interactions, events) with hostile values, or anything else."""
    people = st.sampled_from(["U2147483697", "U1"]) | TEXT
    command = st.fixed_dictionaries({
        "command": st.sampled_from(["/pulse", "/station", "/digest"]) | TEXT,
        "text": st.sampled_from([c.split(" ", 1)[-1] for c in COMMANDS]) | TEXT,
        "user_id": people, "channel_id": TEXT | st.just("C1"), "team_id": TEXT | st.just("T1"),
        "response_url": st.just(response_url), "trigger_id": TEXT})
    interaction = st.fixed_dictionaries({
        "type": st.sampled_from(["block_actions", "view_submission", "shortcut", "message_action"]) | TEXT,
        "user": st.fixed_dictionaries({"id": people}) | JSON, "team": st.fixed_dictionaries({"id": TEXT}) | JSON,
        "response_url": st.just(response_url)}, optional={
        "actions": st.lists(JSON | st.fixed_dictionaries({"action_id": TEXT, "value": TEXT}), max_size=2),
        "view": JSON, "channel": JSON, "container": JSON, "trigger_id": TEXT, "message": JSON})
    event = st.fixed_dictionaries({
        "type": st.sampled_from(["event_callback", "url_verification"]) | TEXT, "team_id": TEXT,
        "event_id": TEXT, "event": st.fixed_dictionaries({
            "type": st.sampled_from(["message", "app_mention", "reaction_added", "app_home_opened"]) | TEXT,
            "user": people, "text": TEXT, "channel": TEXT, "ts": TEXT | NUMBERS}) | JSON}, optional={
        "challenge": TEXT, "event_time": NUMBERS})
    form = "application/x-www-form-urlencoded"
    return st.one_of(
        command.map(lambda c: (urlencode(c, encoding="utf-8", errors="surrogatepass").encode(), form)),
        st.tuples(interaction, st.booleans()).map(
            lambda v: (urlencode({"payload": dumps(*v)}).encode(), form)),
        st.tuples(event, st.booleans()).map(lambda v: (dumps(*v), "application/json")),
        st.tuples(bodies(event), CONTENT_TYPES),
        st.tuples(bodies(interaction).map(lambda b: urlencode({"payload": b}).encode()), st.just(form)))


def slack_headers(body: bytes, content_type: str) -> dict[str, str]:
    """Signed as Slack signs: over the exact bytes (tests.slack.signing takes text, and these may not be)."""
    stamp = str(int(time.time()))
    digest = hmac.new(signing.SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


async def test_slack_events_answer_hostile_signed_bodies_without_a_5xx(db_url: str) -> None:
    async with fake_slack() as fake, running_app(db_url, demo=False, SLACK_BOT_TOKEN="xoxb-test",
                                                 SLACK_SIGNING_SECRET=signing.SECRET,
                                                 SLACK_API_URL=fake.api_url) as running:
        client = Client(running.url)
        before = collection_sizes(running.runtime)

        @HOSTILE
        @given(request=slack_requests(fake.response_url()))
        def post(request: tuple[bytes, str]) -> None:
            body, content_type = request
            no_5xx(client.request("POST", "/slack/events", body, slack_headers(body, content_type)), request)

        await hypothesis_run(post)
        assert_bounded(before, collection_sizes(running.runtime))
