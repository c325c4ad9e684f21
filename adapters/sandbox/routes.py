"""HTTP and WebSocket endpoints of the sandbox page."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from adapters.sandbox import translate
from adapters.sandbox.adapter import SandboxResponder
from adapters.sandbox.channels import with_channel_ids
from adapters.sandbox.guard import PREFIX, SESSION, Guard
from adapters.sandbox.presses import Presses
from adapters.sandbox.sign_ins import SignIns
from adapters.sandbox.translate import BadPayload
from adapters.sandbox.workspace import CHART_URL, Workspace, json_text
from bot import json_input
from bot.cards import text_card
from bot.charts import load_chart
from bot.core import Earshot
from bot.files import SCHEME as FILE_SCHEME
from bot.files import load_file

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_BODY = 64 * 1024
CLOSE_REPLY_SECONDS = 2.0
"""How long closing a page's socket waits for the browser's answering close frame."""


class SandboxRoutes:
    def __init__(self, core: Earshot, workspace: Workspace) -> None:
        self._core = core
        self._workspace = workspace
        self._presses = Presses()
        self._sign_ins = SignIns(core.services.db, core.services.keys)

    def mount(self, app: web.Application, guard: Guard) -> None:
        """Every sandbox route lives in one sub-application behind `guard`, so none can be reached around it
        (unknown paths under /sandbox included)."""
        sandbox = web.Application(middlewares=[guard.middleware])
        sandbox.router.add_get("", self.page)
        sandbox.router.add_get("/", self.page)
        sandbox.router.add_static("/static", STATIC)
        sandbox.router.add_get("/api/state", self.state)
        sandbox.router.add_post("/api/send", self.send)
        sandbox.router.add_post("/api/action", self.action)
        sandbox.router.add_post("/api/reaction", self.reaction)
        sandbox.router.add_post("/api/form", self.form)
        sandbox.router.add_get("/ws", self.socket)
        sandbox.router.add_get(CHART_URL.removeprefix(PREFIX).format("{id:[0-9a-f]+}"), self.chart)
        sandbox.router.add_get("/files/{id:[0-9a-f]+}", self.file)
        app.add_subapp(PREFIX, sandbox)
        app.on_shutdown.append(self._close_sockets)

    async def _close_sockets(self, _app: web.Application) -> None:
        """Stopping: close every open page's socket as "going away". Its page says offline at once, and the
        server stops without waiting for the page (aiohttp otherwise waits for open handlers up to its shutdown
        timeout)."""
        await self._workspace.close_sockets(WSCloseCode.GOING_AWAY, "the server is stopping")

    async def chart(self, request: web.Request) -> web.Response:
        """A stored chart image (cards point at `chart:<id>`; message_json maps that to this URL)."""
        png = await load_chart(self._core.services.db, request.match_info["id"])
        if png is None:
            raise web.HTTPNotFound()
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "max-age=86400"})

    async def file(self, request: web.Request) -> web.Response:
        """A stored file (a CSV export), downloaded under its own name; cards point at `file:<id>`. Only the
        person it was sent to gets it: a message in one of their channels must carry it."""
        user = await self._person(request, request.query.get("as", ""))
        url = f"{FILE_SCHEME}{request.match_info['id']}"
        stored = await load_file(self._core.services.db, url) if await self._workspace.carries(url, user) else None
        if stored is None:
            raise _error(404, f"no such file for {user}")
        return web.Response(body=stored.data, content_type=stored.mime, charset="utf-8" if stored.mime.startswith(
            "text/") else None, headers={"Content-Disposition": f'attachment; filename="{stored.name}"'})

    async def page(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def state(self, request: web.Request) -> web.Response:
        wanted = request.query.get("as")
        if not wanted:  # first visit: be the first demo person
            people = await self._workspace.people()
            wanted = people[0].user_id if people else ""
        user = await self._person(request, wanted, page=True)
        return web.json_response(await self._workspace.state(user), dumps=json_text)

    async def send(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = await self._person(request, body.get("as"))
        channel_id = await self._channel_of(body, user)
        thread = translate.thread_id(body)  # checked for commands too: replies in that thread are posted to it
        command = translate.parse_command(body)
        if command is not None:
            responder = SandboxResponder(self._workspace, channel_id, user)
            await self._core.handle(await with_channel_ids(self._core.services.db, command), responder)
            return _ok()
        posted = await self._workspace.post(channel_id, user, text_card(translate.message_text(body)),
                                            thread_id=thread)
        event = translate.message_event(body, posted["id"])
        await self._core.handle(event, SandboxResponder(self._workspace, channel_id, user))
        return _ok()

    async def action(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = await self._person(request, body.get("as"))
        card = translate.card_id(body)
        if card.startswith("e"):  # a private card: only the person it was shown to can press its buttons
            private_channel = self._workspace.private_card_channel(user, card)
            if private_channel is None:
                raise _error(404, "no such card")
            channel_id = private_channel
        else:
            channel_id = await self._message_channel(body, user)
        event = translate.action_event(body, channel_id)
        if event.pressed is not None and (wait := self._presses.wait(user, card)):
            raise _error(429, f"That's a lot of clicks on this card: try again in {math.ceil(wait)} s.")
        await self._core.handle(event, SandboxResponder(self._workspace, channel_id, user, anchor=card))
        if card.startswith("e"):
            return _ok()
        # The presser's own state on the card as stored now, so their page settles at once (the card's edit
        # follows through the outbox, pushed to everyone).
        return web.json_response({"ok": True, "mine": await self._workspace.own(channel_id, card, user)})

    async def reaction(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = await self._person(request, body.get("as"))
        channel_id = await self._message_channel(body, user)
        event = translate.reaction_event(body, channel_id)
        await self._workspace.react(int(event.message.message_id), user, event.emoji, event.added)
        await self._core.handle(event, SandboxResponder(self._workspace, channel_id, user))
        return _ok()

    async def form(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = await self._person(request, body.get("as"))
        channel_id = await self._workspace.form_channel(user, str(body.get("form_id", "")))
        event = translate.form_event(body, channel_id)
        errors = await self._core.handle(event, SandboxResponder(self._workspace, channel_id, user))
        if errors:
            return web.json_response({"ok": False, "errors": errors})
        return _ok()

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        user = await self._person(request, request.query.get("as", ""))
        ws = web.WebSocketResponse(heartbeat=25, timeout=CLOSE_REPLY_SECONDS)
        await ws.prepare(request)
        self._workspace.connect(user, ws)
        try:
            await ws.send_json({"type": "ready"})  # from here on every change reaches this page: it may resync
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            self._workspace.disconnect(user, ws)
        return ws

    # -- checks ------------------------------------------------------------------------------------
    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise _error(413, "request too large")
        raw = await request.read()  # chunked bodies have no Content-Length to check first
        if len(raw) > MAX_BODY:
            raise _error(413, "request too large")
        try:
            body = json_input.loads(raw)
        except json_input.BadJSON as error:
            raise _error(400, f"the body must be JSON: {error}") from None
        if not isinstance(body, dict):
            raise _error(400, "the body must be a JSON object")
        return body

    async def _person(self, request: web.Request, user: object, page: bool = False) -> str:
        """The person this request acts as (the page's "You are"), for the audit log's sign-ins; `page`: the page
        is loading as them (adapters/sandbox/sign_ins.py)."""
        if not isinstance(user, str) or not await self._workspace.is_person(user):
            some = ", ".join(sorted(p.user_id for p in await self._workspace.people())[:10])
            raise _error(400, f"unknown person {user!r}; choose one of {some}")
        await self._sign_ins.acting(request[SESSION], user, page=page)
        return user

    async def _channel_of(self, body: dict[str, Any], user: str) -> str:
        channel_id = translate.channel(body)
        if not await self._workspace.is_member(channel_id, user):
            raise _error(403, "you are not a member of that channel")
        return channel_id

    async def _message_channel(self, body: dict[str, Any], user: str) -> str:
        channel_id = await self._workspace.channel_of(translate.message_id(body))
        if channel_id is None:
            raise _error(404, "no such message")
        if not await self._workspace.is_member(channel_id, user):
            raise _error(403, "you are not a member of that channel")
        return channel_id


@web.middleware
async def bad_payloads(request: web.Request, handler: Any) -> web.StreamResponse:
    """Malformed sandbox requests answer 400 with the reason, as JSON the page can show."""
    try:
        return await handler(request)
    except BadPayload as error:
        return web.json_response({"ok": False, "error": str(error)}, status=400)


def _ok() -> web.Response:
    return web.json_response({"ok": True})


class _JSONError(web.HTTPException):
    """An HTTP error whose body is the page's usual {"ok": false, "error": ...}."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"ok": False, "error": message}), content_type="application/json")


def _error(status: int, message: str) -> web.HTTPException:
    return _JSONError(status, message)
