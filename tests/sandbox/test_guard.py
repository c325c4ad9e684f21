"""The sandbox's one gate: nothing under /sandbox answers without this run's secret, the Host must name this
machine, other sites' pages can't post or open the WebSocket, and a file goes only to the person it was for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlmodel import func, select

from bot.cards import Card, File, text_card
from bot.charts import save_chart
from bot.events import Target
from bot.files import save_file
from storage.tables import SandboxMessage
from tests.support.server import Running, running_app

JSON = {"Content-Type": "application/json"}
SEND = {"as": "ana", "channel_id": "C-cx", "text": "hello"}


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Running]:
    async with running_app(db_url) as running:
        yield running


async def stored_messages(server: Running) -> int:
    async with server.runtime.db.session() as session:
        return (await session.exec(select(func.count()).select_from(SandboxMessage))).one()


async def a_message_id(server: Running) -> str:
    workspace = server.runtime.workspace
    assert workspace is not None
    return (await workspace.post("C-cx", "ana", text_card("a message to act on")))["id"]


async def test_every_sandbox_route_refuses_a_request_without_the_secret(server: Running) -> None:
    async with server.runtime.db.session() as session:
        chart = (await save_chart(session, b"\x89PNG\r\n\x1a\n")).removeprefix("chart:")
        file = (await save_file(session, "export.csv", "text/csv", b"a,b\r\n")).removeprefix("file:")
        await session.commit()
    message = await a_message_id(server)
    before = await stored_messages(server)
    gets = ["/sandbox", "/sandbox/", "/sandbox/?as=sam", "/sandbox/static/app.js", "/sandbox/static/index.html",
            "/sandbox/api/state", "/sandbox/api/state?as=sam", f"/sandbox/charts/{chart}.png",
            f"/sandbox/files/{file}?as=ana", "/sandbox/nothing-here", "/sandbox/ws?as=ana"]
    posts = {"/sandbox/api/send": SEND, "/sandbox/api/action": {"as": "ana", "message_id": message,
                                                                "action_id": "x", "value": "1"},
             "/sandbox/api/reaction": {"as": "ben", "message_id": message, "emoji": "🎉", "added": True},
             "/sandbox/api/form": {"as": "ana", "form_id": "pulse-new", "values": {}}}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        for path in gets:
            async with session.get(f"{server.url}{path}", allow_redirects=False) as response:
                assert response.status == 401, path
                assert "link Earshot printed" in await response.text(), path
        for path, body in posts.items():
            async with session.post(f"{server.url}{path}", json=body) as response:
                assert response.status == 401, path
                assert "link Earshot printed" in (await response.json())["error"]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{server.url}/sandbox/ws?as=ana")
        assert refused.value.status == 401
    assert await stored_messages(server) == before
    workspace = server.runtime.workspace
    assert workspace is not None and (await workspace.message(int(message))).reactions == {}  # type: ignore[union-attr]


async def test_a_wrong_token_is_refused(server: Running) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        for wrong in ("nope", server.guard.token[:-1], server.guard.token + "x", "ü" * 10, ""):
            async with session.get(f"{server.url}/sandbox/", params={"token": wrong},
                                   allow_redirects=False) as response:
                assert response.status == 401 and "Set-Cookie" not in response.headers
        session.cookie_jar.update_cookies({server.guard.cookie: "forged"})
        async with session.get(f"{server.url}/sandbox/api/state?as=ana") as response:
            assert response.status == 401


async def test_the_printed_link_trades_its_secret_for_a_strict_cookie(server: Running) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{server.link}&as=ana&channel=C-cx", allow_redirects=False) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/sandbox/?as=ana&channel=C-cx"  # the secret left the address
            cookie = response.cookies[server.guard.cookie]
            assert server.guard.token not in cookie.value  # a session signed with the secret, not the secret
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/sandbox"
        async with session.get(f"{server.url}/sandbox/?as=ana") as response:
            assert response.status == 200 and "<title>Earshot sandbox</title>" in await response.text()
        async with session.get(f"{server.url}/sandbox/api/state?as=sam") as response:
            assert response.status == 200 and (await response.json())["me"] == "sam"  # the operator plays anyone
        async with session.post(f"{server.url}/sandbox/api/send", json=SEND) as response:
            assert response.status == 200
        ws = await session.ws_connect(f"{server.url}/sandbox/ws?as=ana")
        await ws.close()


async def test_another_sites_pages_cannot_post_or_open_the_websocket(server: Running) -> None:
    before = await stored_messages(server)
    async with await server.sandbox_session() as session:
        for origin in ("http://evil.example", "null", f"http://evil.example:{server.url.rsplit(':', 1)[1]}"):
            async with session.post(f"{server.url}/sandbox/api/send", json=SEND,
                                    headers={"Origin": origin}) as response:
                assert response.status == 403, origin
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{server.url}/sandbox/ws?as=ben", headers={"Origin": origin})
            assert refused.value.status == 403
        assert await stored_messages(server) == before
        async with session.post(f"{server.url}/sandbox/api/send", json=SEND,
                                headers={"Origin": server.url}) as response:
            assert response.status == 200  # the page's own requests carry its own origin
        ws = await session.ws_connect(f"{server.url}/sandbox/ws?as=ben", headers={"Origin": server.url})
        await ws.close()


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          None])
async def test_only_json_is_taken(server: Running, content_type: str | None) -> None:
    """A cross-site form can send text/plain whose body happens to be JSON; the sandbox acts on none of it."""
    before = await stored_messages(server)
    headers = {"Content-Type": content_type} if content_type else {}
    async with await server.sandbox_session() as session, session.post(
            f"{server.url}/sandbox/api/send", data=json.dumps(SEND).encode(), headers=headers) as response:
        assert response.status == 415
        assert "application/json" in (await response.json())["error"]
    assert await stored_messages(server) == before


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}", "localhost.attacker.example",
                                  "127.0.0.1.nip.io:{port}", "10.0.0.5:{port}", "0.0.0.0:{port}"])
async def test_a_host_that_is_not_this_machine_is_refused(server: Running, host: str) -> None:
    """DNS rebinding: a page at attacker.example whose name now points at 127.0.0.1 sends its own Host."""
    port = server.url.rsplit(":", 1)[1]
    async with await server.sandbox_session() as session:
        async with session.get(f"{server.url}/sandbox/api/state?as=ana",
                               headers={"Host": host.format(port=port)}) as response:
            assert response.status == 403
        for name in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"):
            async with session.get(f"{server.url}/sandbox/api/state?as=ana", headers={"Host": name}) as response:
                assert response.status == 200, name


async def test_opened_on_purpose_other_host_names_are_answered_but_the_secret_still_holds(db_url: str) -> None:
    async with running_app(db_url, HOST="0.0.0.0", EARSHOT_SANDBOX_PUBLIC="1") as server:
        async with aiohttp.ClientSession() as bare, bare.get(f"{server.url}/sandbox/api/state",
                                                             headers={"Host": "earshot.example.org"}) as response:
            assert response.status == 401
        async with await server.sandbox_session() as session, session.get(
                f"{server.url}/sandbox/api/state?as=ana", headers={"Host": "earshot.example.org"}) as response:
            assert response.status == 200


async def test_a_file_is_served_only_to_the_person_it_was_made_for(server: Running) -> None:
    """It reaches the person in a message (a pulse export goes by DM); anyone else, admin included, and any file
    no sandbox message carries (another platform's export on the same database) get nothing."""
    async with server.runtime.db.session() as session:
        url = await save_file(session, "pulse-1-run-1.csv", "text/csv", b"question,answer\r\n")
        await server.runtime.outbox.send(session, Target.user("sandbox", "maria"),
                                         Card("CSV", (File(url, "pulse-1-run-1.csv"),)), dedupe_key="export-1")
        elsewhere = await save_file(session, "pulse-2-run-1.csv", "text/csv", b"made for someone on Slack\r\n")
        await session.commit()
    file = url.removeprefix("file:")
    async with await server.sandbox_session() as session:
        for _ in range(100):  # the outbox delivers it to Maria's DM
            async with session.get(f"{server.url}/sandbox/files/{file}?as=maria") as response:
                if response.status == 200:
                    assert await response.read() == b"question,answer\r\n"
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the file never reached Maria")
        for someone in ("ana", "sam", "priya"):
            async with session.get(f"{server.url}/sandbox/files/{file}?as={someone}") as response:
                assert response.status == 404, someone
        async with session.get(f"{server.url}/sandbox/files/{file}") as response:
            assert response.status == 400
        for someone in ("maria", "sam"):
            async with session.get(f"{server.url}/sandbox/files/{elsewhere.removeprefix('file:')}?as={someone}"
                                   ) as response:
                assert response.status == 404
