"""Hostile input at the sandbox gets a 400 with a reason, never a 500, and leaves nothing behind in memory."""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.sandbox.workspace import FORMS_KEPT, dm_channel_id
from bot.cards import Form, text_card
from storage.tables import SandboxMessage
from tests.support.server import Running, live_socket, running_app

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Running]:
    async with running_app(db_url) as running:
        yield running


async def post(session: aiohttp.ClientSession, url: str, body: object | str) -> tuple[int, dict]:
    raw = body if isinstance(body, str) else json.dumps(body)
    async with session.post(url, data=raw.encode(), headers=JSON) as response:
        return response.status, await response.json()


@pytest.mark.parametrize("message_id", ["1234567890123456789", "99999999999999999999", "2147483648", "٣", "²",
                                        "-1", "1e3"])
async def test_a_message_id_out_of_range_is_a_400(server: Running, message_id: str) -> None:
    """Was: a 19-digit id overflowed the database's integer, a 500 (a superscript digit passed isdigit())."""
    async with await server.sandbox_session() as session:
        for path, body in (("action", {"as": "ana", "message_id": message_id, "action_id": "x", "value": "1"}),
                           ("reaction", {"as": "ana", "message_id": message_id, "emoji": "🎉", "added": True}),
                           ("send", {"as": "ana", "channel_id": "C-cx", "thread_id": message_id, "text": "hi"}),
                           ("send", {"as": "ana", "channel_id": "C-cx", "thread_id": message_id,
                                     "text": "/pulse help"})):
            status, answer = await post(session, f"{server.url}/sandbox/api/{path}", body)
            assert (status, answer["ok"]) == (400, False), (path, answer)
            assert "id" in answer["error"]
        status, _ = await post(session, f"{server.url}/sandbox/api/action",
                               {"as": "ana", "message_id": "2147483647", "action_id": "x", "value": "1"})
        assert status == 404  # the largest id there can be: looked for, not found


@pytest.mark.parametrize("field", ["text", "channel_id", "as", "client_id"])
async def test_a_lone_surrogate_is_refused_and_the_workspace_still_loads(server: Running, field: str) -> None:
    body = json.dumps({"as": "ana", "channel_id": "C-cx", "text": "hi"})[:-1] + f', "{field}": "a\\ud800b"}}'
    async with await server.sandbox_session() as session:
        status, answer = await post(session, f"{server.url}/sandbox/api/send", body)
        assert status == 400 and "surrogate" in answer["error"]
        async with session.get(f"{server.url}/sandbox/api/state?as=ana") as response:
            assert response.status == 200
            assert all("\ud800" not in json.dumps(m) for m in (await response.json())["messages"])


async def test_text_the_page_cannot_encode_never_breaks_the_workspace(server: Running) -> None:
    """Was: one message holding a lone surrogate made /sandbox/api/state answer 500 for that channel for good,
    and its live push never arrived. A reply that echoes it, or a row stored before it was refused, is sent
    \\u-escaped instead."""
    workspace = server.runtime.workspace
    assert workspace is not None
    async with await server.sandbox_session() as session:
        ws = await live_socket(session, server.url, "ana")
        await workspace.post_ephemeral("C-cx", "ana", text_card("echo: a\ud800b"))
        pushed = await asyncio.wait_for(ws.receive_json(), 5)
        assert pushed["message"]["card"]["fallback"] == "echo: a\ud800b"
        await ws.close()
        if server.runtime.db.is_sqlite:  # PostgreSQL's json type refuses a lone surrogate outright
            async with server.runtime.db.write() as db_session:
                db_session.add(SandboxMessage(channel_id="C-cx", author_id="ben", card=text_card("x\udfff").to_json()))
                await db_session.commit()
        async with session.get(f"{server.url}/sandbox/api/state?as=ana") as response:
            assert response.status == 200
            fallbacks = [m["card"]["fallback"] for m in (await response.json())["messages"]]
        assert "echo: a\ud800b" in fallbacks
        assert ("x\udfff" in fallbacks) == server.runtime.db.is_sqlite


async def test_channel_ids_a_client_makes_up_are_not_kept(server: Running) -> None:
    """Was: every distinct channel_id sent was remembered (12 MB for 200 requests of long ids)."""
    async with await server.sandbox_session() as session:
        await post(session, f"{server.url}/sandbox/api/send", {"as": "ana", "channel_id": "C-warm", "text": "x"})
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for n in range(200):
                status, _ = await post(session, f"{server.url}/sandbox/api/send",
                                       {"as": "ana", "channel_id": f"{n:05d}" + "C" * 60_000, "text": "x"})
                assert status in (400, 403)
            for n in range(600):
                status, _ = await post(session, f"{server.url}/sandbox/api/send",
                                       {"as": "ana", "channel_id": f"C-made-up-{n:05d}-" + "x" * 48, "text": "x"})
                assert status == 403
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    assert grown < 400_000, f"{grown} bytes kept"


async def test_remembered_forms_are_bounded(server: Running) -> None:
    """Where each form was opened is remembered for its answer; past FORMS_KEPT the oldest is forgotten (its
    answer then goes to the person's DM with the bot, as a form nobody opened does)."""
    workspace = server.runtime.workspace
    assert workspace is not None
    for n in range(FORMS_KEPT + 500):
        await workspace.open_form("ana", Form(form_id=f"fb-done:{n}", title="t", submit_label="ok", inputs=()),
                                  "C-cx")
    assert await workspace.form_channel("ana", f"fb-done:{FORMS_KEPT + 499}") == "C-cx"
    assert await workspace.form_channel("ana", f"fb-done:{FORMS_KEPT}") == "C-cx"
    assert await workspace.form_channel("ana", "fb-done:0") == dm_channel_id("ana")
