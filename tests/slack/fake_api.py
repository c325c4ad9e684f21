"""A fake Slack Web API on loopback: records every call, answers like Slack, and fails on request.

The real AsyncWebClient talks to it through `base_url`; response_url posts and file uploads land here too.
Posted messages are kept (with their metadata) for conversations.history and conversations.replies. OAuth:
`add_install` makes a code that oauth.v2.access exchanges for that workspace's bot token, and auth.test then
answers for the workspace of the token it is called with.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.postgres import free_port

BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
APP_ID = "A0EARSHOT1"
TEAM = "T0001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    """The bearer token (or the whole Authorization header when it is not a bearer one, e.g. Basic)."""
    at: float = field(default_factory=time.monotonic)
    answer: dict[str, Any] | None = None
    """What the fake answered (a posted message's ts, an opened view)."""


@dataclass
class Failure:
    status: int
    error: str | None
    retry_after: int | None
    body: str | None
    delay: float
    reset: bool = False
    applied: bool = False


@dataclass
class FakeSlack:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    """conversations.info answers, by channel id."""
    uploads: dict[str, bytes] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    """Bodies posted to response_url (`{url}/response/...`)."""
    page_size: int = 2
    """The most a paged method (conversations.members, .history, .replies) answers at once."""
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Messages posted, by channel, oldest first."""
    socket_envelopes: list[dict[str, Any]] = field(default_factory=list)
    """Socket Mode: envelopes to push to a client that connects to `{url}/socket`."""
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    installs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """oauth.v2.access answers, by code."""
    _failures: dict[str, list[Failure]] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/response/{name}"

    def fail(self, method: str, *, status: int = 200, error: str | None = None, retry_after: int | None = None,
             body: str | None = None, delay: float = 0.0, times: int = 1, reset: bool = False,
             applied: bool = False) -> None:
        """The next `times` calls of `method` answer this way (HTTP status, Slack error code, Retry-After,
        a non-JSON body), after `delay` seconds; `reset` drops the connection without an answer instead.
        `applied`: the call takes effect all the same (a message is posted), as Slack warns a 5xx may."""
        self._failures.setdefault(method, []).extend(
            Failure(status, error, retry_after, body, delay, reset, applied) for _ in range(times))

    def add_install(self, code: str, team_id: str, token: str, *, installer: str, bot_user: str = BOT_USER) -> None:
        """Authorizing the app in `team_id` gives `code`; exchanging it gives `token`."""
        self.installs[code] = {
            "ok": True, "app_id": APP_ID, "authed_user": {"id": installer}, "scope": "chat:write,commands",
            "token_type": "bot", "access_token": token, "bot_user_id": bot_user,
            "team": {"id": team_id, "name": f"Team {team_id}"}, "enterprise": None, "is_enterprise_install": False}

    def add_user(self, user_id: str, name: str, tz: str, **extra: Any) -> None:
        self.users[user_id] = {"id": user_id, "name": name.lower(), "tz": tz, "deleted": False, "is_bot": False,
                               "profile": {"display_name": name, "real_name": name}, **extra}

    def post(self, channel: str, text: str, *, user: str = BOT_USER, thread_ts: str | None = None,
             metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Put a message in a channel's history (as chat.postMessage does); returns it."""
        message: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": self._next_ts()}
        if user == BOT_USER:
            message |= {"bot_id": BOT_ID, "app_id": APP_ID}
        if thread_ts:
            message["thread_ts"] = thread_ts
        if metadata:
            message["metadata"] = metadata
        self.messages.setdefault(channel, []).append(message)
        return message

    def _next_ts(self) -> str:
        """A Slack ts: the wall clock's second (conversations.history's `oldest` compares with it), then a counter
        that keeps every ts unique and increasing."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, seconds: float = 5.0) -> list[Call]:
        """The calls of `method` once there are at least `count` of them."""
        async with asyncio.timeout(seconds):
            while len(self.of(method)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.of(method)

    # -- the server -----------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/socket", self._socket)
        return app

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode as Slack runs it: hello, then envelopes; the client acks each by envelope_id."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
        for envelope in self.socket_envelopes:
            await ws.send_json(envelope)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
                self._record(Call("socket_ack", self.socket_acks[-1], None))
        return ws

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(dict(await request.post()))
        return args

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        auth = request.headers.get("Authorization", "")
        args = await self._args(request)
        call = Call(method, args, auth.removeprefix("Bearer ") or args.get("token"))
        queued = self._failures.get(method)
        if queued:
            failure = queued.pop(0)
            if failure.applied:
                self._answer(method, args, call.token)
            self._record(call)
            await asyncio.sleep(failure.delay)
            if failure.reset and request.transport is not None:
                request.transport.abort()  # a TCP reset: the client sees the connection die mid-request
                return web.Response(status=500)
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            if failure.body is not None:
                return web.Response(status=failure.status, text=failure.body, content_type="text/html",
                                    headers=headers)
            return web.json_response({"ok": False, "error": failure.error or "internal_error"},
                                     status=failure.status, headers=headers)
        call.answer = self._answer(method, args, call.token)
        self._record(call)
        return web.json_response(call.answer)

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        ts = self._next_ts()
        match method:
            case "auth.test":
                installed = next((i for i in self.installs.values() if i["access_token"] == token), None)
                if installed is not None:
                    return {"ok": True, "url": "https://earshot-test.slack.com/", "team": installed["team"]["name"],
                            "user": "earshot", "team_id": installed["team"]["id"],
                            "user_id": installed["bot_user_id"], "bot_id": BOT_ID}
                return {"ok": True, "url": "https://earshot-test.slack.com/", "team": "Earshot Test",
                        "user": "earshot", "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID}
            case "oauth.v2.access":
                return self.installs.get(str(args.get("code")), {"ok": False, "error": "invalid_code"})
            case "chat.postMessage":
                channel = str(args.get("channel", ""))
                channel = "D" + channel[1:] if channel.startswith("U") else channel
                message = self.post(channel, str(args.get("text") or ""), thread_ts=args.get("thread_ts"),
                                    metadata=_json(args.get("metadata")))
                return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
            case "conversations.history":  # newest first, thread replies left out
                found = [m for m in self.messages.get(str(args.get("channel")), [])
                         if m.get("thread_ts", m["ts"]) == m["ts"]]
                return self._page(found[::-1], args)
            case "conversations.replies":  # the parent, then its replies, oldest first
                thread = str(args.get("ts"))
                return self._page([m for m in self.messages.get(str(args.get("channel")), [])
                                   if thread in (m["ts"], m.get("thread_ts"))], args)
            case "chat.update":
                return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
            case "chat.postEphemeral":
                return {"ok": True, "message_ts": ts}
            case "conversations.open":
                return {"ok": True, "channel": {"id": "D" + str(args.get("users", "")).lstrip("U")}}
            case "conversations.members":
                everyone = self.members.get(str(args.get("channel")), [])
                start = int(args.get("cursor") or 0)
                end = start + min(int(args.get("limit", self.page_size)), self.page_size)
                more = str(end) if end < len(everyone) else ""
                return {"ok": True, "members": everyone[start:end], "response_metadata": {"next_cursor": more}}
            case "conversations.info":
                channel = self.channels.get(str(args.get("channel")))
                return {"ok": True, "channel": channel} if channel else {"ok": False, "error": "channel_not_found"}
            case "users.info":
                user = self.users.get(str(args.get("user")))
                return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
            case "views.open" | "views.publish":
                return {"ok": True, "view": {"id": f"V{next(self._ts)}", **(_json(args.get("view")) or {})}}
            case "files.getUploadURLExternal":
                file_id = f"F{next(self._ts)}"
                return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
            case "files.completeUploadExternal":
                return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")}
                                              for f in _json(args.get("files")) or []]}
            case "apps.connections.open":
                return {"ok": True, "url": f"{self.url.replace('http', 'ws', 1)}/socket"}
        return {"ok": True}

    def _page(self, messages: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        """One page of messages after `oldest` (exclusive, as Slack's default), with metadata only when
        `include_all_metadata` is set."""
        oldest = float(args.get("oldest") or 0)
        found = [m for m in messages if float(m["ts"]) > oldest]
        start = int(args.get("cursor") or 0)
        end = start + min(int(args.get("limit", self.page_size)), self.page_size)
        with_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
        page = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in found[start:end]]
        more = end < len(found)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(end) if more else ""}}

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        self._record(Call("upload", {"file_id": request.match_info["file_id"]}, None))
        return web.Response(text=f"OK - {len(self.uploads[request.match_info['file_id']])}")

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        self._record(Call("response_url", {"name": request.match_info["name"]}, None))
        return web.Response(text="ok")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@asynccontextmanager
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
