"""Over the sandbox's HTTP API: a manager's creation form listing 3,000 invented people, or people the sandbox
doesn't have, launches nothing and opens no DM; real people still get their pulse."""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

from adapters.sandbox.workspace import dm_channel_id
from bot.pulses.spec import MAX_PEOPLE
from storage.tables import Pulse, SandboxChannel
from tests.support.server import Running, running_app

FORM = {"title": "Lunch?", "questions": "yesno: Lunch on Friday?", "audience": "people", "anonymous": "yes",
        "results": "live", "share": "no", "close": "", "remind": "", "every": "", "when": "zone", "tz": "UTC"}


async def counts(server: Running) -> tuple[int, int]:
    async with server.runtime.db.session() as session:
        return ((await session.exec(select(func.count()).select_from(Pulse))).one(),
                (await session.exec(select(func.count()).select_from(SandboxChannel))).one())


async def test_invented_people_are_refused_over_http(db_url: str) -> None:
    async with running_app(db_url) as server, await server.sandbox_session() as session:
        async def form(people: str) -> dict[str, Any]:
            async with session.post(f"{server.url}/sandbox/api/form", json={
                    "as": "maria", "form_id": "pulse-new", "values": {**FORM, "people": people},
                    "metadata": "C-general"}) as response:
                assert response.status == 200
                return await response.json()

        before = await counts(server)
        answer = await form(",".join(f"fake{n}" for n in range(3000)))
        assert answer["ok"] is False and f"at most {MAX_PEOPLE} people" in answer["errors"]["people"]
        answer = await form("ana, ghost, ben")
        assert answer["ok"] is False and "I don't know @ghost here" in answer["errors"]["audience"]
        pulses, channels = await counts(server)
        assert pulses == before[0] == 0
        assert channels == before[1]  # no DM for anyone invented (the demo's people have theirs: the welcome)
        async with server.runtime.db.session() as db:
            assert await db.get(SandboxChannel, dm_channel_id("maria")) is not None
        assert await form("ana, ben") == {"ok": True}
        async with server.runtime.db.session() as db:
            (pulse,) = await db.exec(select(Pulse))
            assert await db.get(SandboxChannel, dm_channel_id("ghost")) is None
        assert pulse.audience["users"] == ["ana", "ben"]
