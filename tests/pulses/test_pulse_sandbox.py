"""Every question type end to end through the sandbox: launched by a command, answered over HTTP, tallied
on the card in place."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.support.server import live_socket, running_app

PULSES = [
    ('"Energy today?" scale:1-5 named', "4", "average 4.00 / 5"),
    ('"Lunch?" choices:"Pizza, Суп, ข้าวผัด" named', "2", "ข้าวผัด"),
    ('"Which days?" multi:"Mon, Tue, Wed" named', ["0", "2"], "Wed"),
    ('"Recommend working here?" enps named', "9", "eNPS +100"),
    ('"Blocked?" yesno named', "no", "👎 No"),
    ('"One wish?" text named', None, "Меньше встреч"),
]


async def call(session: aiohttp.ClientSession, url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(f"{url}{path}", json=body) as response:
        answer = await response.json()
        assert response.status == 200, answer
        return answer


async def state(session: aiohttp.ClientSession, url: str, who: str) -> list[dict[str, Any]]:
    async with session.get(f"{url}/sandbox/api/state?as={who}") as response:
        return (await response.json())["messages"]


async def wait_for(check, within: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def test_every_question_type_end_to_end(db_url: str) -> None:
    async with running_app(db_url, EARSHOT_ANON_MIN="3") as server, await server.sandbox_session() as session:
        url = server.url
        server.runtime.outbox.update_interval = 0.2
        for text, _, _ in PULSES:
            await call(session, url, "/sandbox/api/send", {"as": "maria", "channel_id": "C-product",
                                                           "text": f"/pulse {text}"})

        async def cards() -> list[dict[str, Any]] | None:
            found = [m for m in await state(session, url, "ana") if m["card"]["fallback"].startswith("Pulse:")]
            return found if len(found) == len(PULSES) else None

        posted = await wait_for(cards)
        ws = await live_socket(session, url, "ana")
        for (_, value, _), message in zip(PULSES, posted, strict=True):
            blocks = message["card"]["blocks"]
            action = next(b["action_id"] if b["type"] == "choices" else b["buttons"][0]["action_id"]
                          for b in blocks if b["type"] in ("buttons", "choices"))
            if value is None:  # free text: the button opens a form, the form carries the words
                await call(session, url, "/sandbox/api/action", {"as": "ana", "message_id": message["id"],
                                                                 "action_id": action, "value": "text"})
                while (pushed := await asyncio.wait_for(ws.receive_json(), 5))["type"] != "form":
                    continue
                form = pushed["form"]
                answer = await call(session, url, "/sandbox/api/form", {
                    "as": "ana", "form_id": form["form_id"], "values": {"comment": "Меньше встреч 🙏"},
                    "metadata": form["metadata"]})
                assert answer == {"ok": True}
            else:
                await call(session, url, "/sandbox/api/action", {"as": "ana", "message_id": message["id"],
                                                                 "action_id": action, "value": value})
        await ws.close()

        async def tallied() -> bool:
            messages = {m["id"]: m for m in await state(session, url, "mei")}
            return all(summary in json.dumps(messages[m["id"]]["card"], ensure_ascii=False)
                       for (_, _, summary), m in zip(PULSES, posted, strict=True))

        await wait_for(tallied)
        private = [m for m in await state(session, url, "ana") if m["ephemeral_to"] == "ana"]
        assert sum("Recorded" in m["card"]["fallback"] for m in private) == len(PULSES)


async def test_the_close_confirmation_is_pressed_in_the_sandbox_by_its_author_alone(db_url: str) -> None:
    """`/pulse close` answers with a private card (id `e…`): its Close button must work for the person it was
    shown to, and for nobody else."""
    async with running_app(db_url, EARSHOT_ANON_MIN="3") as server, await server.sandbox_session() as session:
        url = server.url
        await call(session, url, "/sandbox/api/send", {"as": "maria", "channel_id": "C-product",
                                                       "text": '/pulse "Ship on Friday?" yesno'})
        await wait_for(lambda: _card(session, url, "maria", "Pulse:"))
        await call(session, url, "/sandbox/api/send", {"as": "maria", "channel_id": "C-product",
                                                       "text": "/pulse close"})
        asked = await wait_for(lambda: _card(session, url, "maria", "Close"))
        assert asked["id"].startswith("e") and asked["ephemeral_to"] == "maria"
        close = next(b for block in asked["card"]["blocks"] if block["type"] == "buttons"
                     for b in block["buttons"] if b["action_id"].startswith("pulse-close:yes:"))
        press = {"message_id": asked["id"], "action_id": close["action_id"], "value": close["value"]}
        async with session.post(f"{url}/sandbox/api/action", json={"as": "ana", **press}) as response:
            assert response.status == 404  # shown to María only
        await call(session, url, "/sandbox/api/action", {"as": "maria", **press})
        assert await wait_for(lambda: _card(session, url, "maria", "Results:"))


async def _card(session: aiohttp.ClientSession, url: str, who: str, prefix: str) -> dict[str, Any] | None:
    return next((m for m in await state(session, url, who) if m["card"]["fallback"].startswith(prefix)), None)
