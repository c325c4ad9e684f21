"""End to end over real HTTP: the server on a free port, the sandbox API, health and metrics."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.support.server import Running, live_socket, running_app


@pytest.fixture
async def server(db_url: str):  # type: ignore[no-untyped-def]
    async with running_app(db_url) as running:
        yield running


JSON = {"Content-Type": "application/json"}


async def post(session: aiohttp.ClientSession, url: str, body: object) -> tuple[int, dict]:
    async with session.post(url, data=json.dumps(body), headers=JSON) as response:
        return response.status, await response.json()


async def test_health_and_metrics(server: Running) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["database"] == "ok"
        async with session.get(f"{server.url}/metrics") as response:
            assert response.status == 200
            assert "earshot_outbox_depth" in await response.text()


async def test_a_command_gets_a_private_reply_that_arrives_live(server: Running) -> None:
    async with await server.sandbox_session() as session:
        ws = await live_socket(session, server.url, "ana")
        status, body = await post(session, f"{server.url}/sandbox/api/send",
                                  {"as": "ana", "channel_id": "C-cx", "text": "/station hlep"})
        assert (status, body) == (200, {"ok": True})
        pushed = await asyncio.wait_for(ws.receive_json(), 5)
        assert pushed["type"] == "message"
        message = pushed["message"]
        assert message["ephemeral_to"] == "ana"
        assert "/station help" in json.dumps(message["card"], ensure_ascii=False)
        await ws.close()
        async with session.get(f"{server.url}/sandbox/api/state?as=ben") as response:
            seen_by_ben = (await response.json())["messages"]
        assert all(m["id"] != message["id"] for m in seen_by_ben)  # ephemeral: only Ana sees it


async def test_a_core_message_is_delivered_through_the_outbox_and_pushed(server: Running) -> None:
    from bot.cards import text_card
    from bot.events import Target

    async with await server.sandbox_session() as session:
        ws = await live_socket(session, server.url, "ben")
        async with server.runtime.db.session() as db_session:
            await server.runtime.outbox.send(db_session, Target.channel("sandbox", "C-support"),
                                             text_card("Привіт, команда 👋"), dedupe_key="hello")
            await db_session.commit()
        pushed = await asyncio.wait_for(ws.receive_json(), 5)
        assert pushed["message"]["card"]["fallback"] == "Привіт, команда 👋"
        assert pushed["message"]["author"]["bot"] is True
        await ws.close()


@pytest.mark.parametrize("body, status, error", [
    ("not json", 400, "the body must be JSON"),
    ([1, 2], 400, "the body must be a JSON object"),
    ({"as": "nobody", "channel_id": "C-cx", "text": "hi"}, 400, "unknown person"),
    ({"as": "ben", "channel_id": "C-product", "text": "hi"}, 403, "not a member"),
    ({"as": "ana", "channel_id": "C-cx", "text": 5}, 400, "text must be a string"),
])
async def test_bad_sandbox_requests_get_clear_errors(server: Running, body: object, status: int,
                                                     error: str) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    async with await server.sandbox_session() as session, session.post(f"{server.url}/sandbox/api/send",
                                                                        data=raw, headers=JSON) as response:
        assert response.status == status
        assert error in (await response.json())["error"]


async def test_reactions_and_thread_replies_reach_the_page(server: Running) -> None:
    async with await server.sandbox_session() as session:
        await post(session, f"{server.url}/sandbox/api/send", {"as": "ana", "channel_id": "C-cx", "text": "hi"})
        async with session.get(f"{server.url}/sandbox/api/state?as=ana") as response:
            parent = (await response.json())["messages"][-1]
        status, _ = await post(session, f"{server.url}/sandbox/api/reaction",
                               {"as": "ben", "message_id": parent["id"], "emoji": "🎉", "added": True})
        assert status == 200
        await post(session, f"{server.url}/sandbox/api/send",
                   {"as": "ben", "channel_id": "C-cx", "thread_id": parent["id"], "text": "สวัสดีครับ"})
        async with session.get(f"{server.url}/sandbox/api/state?as=ana") as response:
            messages = (await response.json())["messages"]
        by_id = {m["id"]: m for m in messages}
        assert by_id[parent["id"]]["reactions"] == {"🎉": ["ben"]}
        assert messages[-1]["thread_id"] == parent["id"] and messages[-1]["card"]["fallback"] == "สวัสดีครับ"


async def test_charts_in_private_replies_are_served_to_the_page(server: Running) -> None:
    from bot.cards import Card, Image
    from bot.charts import save_chart

    assert server.runtime.workspace is not None
    async with server.runtime.db.session() as db_session:
        url = await save_chart(db_session, b"\x89PNG\r\n\x1a\n fake")
        await db_session.commit()
    posted = await server.runtime.workspace.post_ephemeral("C-cx", "ana", Card("chart", (Image(url, "a chart"),)))
    served = posted["card"]["blocks"][0]["url"]
    assert served.startswith("/sandbox/charts/")
    async with await server.sandbox_session() as session, session.get(f"{server.url}{served}") as response:
        assert response.status == 200 and (await response.read()).startswith(b"\x89PNG")


async def test_private_replies_are_kept_for_reloads_newest_fifty_per_person(server: Running) -> None:
    from adapters.sandbox.workspace import EPHEMERAL_KEPT
    from bot.cards import text_card

    workspace = server.runtime.workspace
    assert workspace is not None
    for n in range(EPHEMERAL_KEPT + 10):
        await workspace.post_ephemeral("C-cx", "ana", text_card(f"reply {n} — ответ {n}"))
    await workspace.post_ephemeral("C-cx", "ben", text_card("only Ben's"))
    async with await server.sandbox_session() as session, \
            session.get(f"{server.url}/sandbox/api/state?as=ana") as response:
        mine = [m for m in (await response.json())["messages"] if m.get("ephemeral_to")]
    assert [m["card"]["fallback"] for m in mine] == [f"reply {n} — ответ {n}" for n in range(10, EPHEMERAL_KEPT + 10)]
    assert {m["ephemeral_to"] for m in mine} == {"ana"}


async def test_a_stored_file_downloads_under_its_name(server: Running) -> None:
    from bot.cards import Card, File
    from bot.files import save_file

    workspace = server.runtime.workspace
    assert workspace is not None
    data = "question,answer\r\nКак дела?,4 🙂\r\n".encode()
    async with server.runtime.db.session() as db_session:
        url = await save_file(db_session, "pulse-1-run-1.csv", "text/csv", data)
        await db_session.commit()
    await workspace.post(await workspace.open_dm("ana"), "earshot", Card("CSV", (File(url, "pulse-1-run-1.csv"),)))
    async with await server.sandbox_session() as session:
        async with session.get(f"{server.url}/sandbox/files/{url.removeprefix('file:')}?as=ana") as response:
            assert response.status == 200 and await response.read() == data
            assert response.headers["Content-Type"].startswith("text/csv")
            assert response.headers["Content-Disposition"] == 'attachment; filename="pulse-1-run-1.csv"'
        async with session.get(f"{server.url}/sandbox/files/0123abcd?as=ana") as response:
            assert response.status == 404


async def test_a_sandbox_channel_pulse_knows_its_audience_for_the_participation_rate(server: Running) -> None:
    """Was: `1 answered` with no “of N”: only Slack said how many people a channel has."""
    from sqlmodel import select

    from storage.tables import PulseRun

    assert server.runtime.workspace is not None
    members = await server.runtime.workspace.members("C-cx")
    async with await server.sandbox_session() as session:
        status, _ = await post(session, f"{server.url}/sandbox/api/send",
                               {"as": "maria", "channel_id": "C-cx", "text": '/pulse "Coffee at 3?" yesno'})
    assert status == 200
    async with server.runtime.db.session() as db_session:
        (run,) = list(await db_session.exec(select(PulseRun)))
    assert run.audience_size == len(members) > 1
