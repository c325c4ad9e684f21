"""Over the sandbox's HTTP API, as the red team did it: Ben presses buttons on a card he can see with the id of
an item he can't, and submits a "Mark done" form he was never given. Nothing is stored; the click on the
right card still counts."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from sqlmodel import func, select

from bot.feedback.engagement import NOT_THIS_CARD
from storage.tables import Claim, Engagement, Feedback, FeedbackReaction
from tests.pulses.test_pulse_sandbox import call, state
from tests.support.server import Running, running_app

ITEMS = [  # the demo's #cx-feedback takes everything, #product checkout, mobile and reports
    {"id": "seen", "source": "nps", "text": "Support answered within minutes", "score": 9, "score_type": "nps"},
    {"id": "secret", "source": "nps", "text": "Checkout double-charged me", "product_area": "checkout"},
]


async def card_of(session: aiohttp.ClientSession, server: Running, who: str, channel: str,
                  text: str) -> dict[str, Any]:
    for _ in range(100):
        for message in await state(session, server.url, who):
            if message["channel_id"] == channel and text in message["card"]["fallback"]:
                return message
        await asyncio.sleep(0.1)
    raise AssertionError(f"no card with {text!r} in {channel} for {who}")


def value_of(message: dict[str, Any]) -> str:
    buttons = next(b for b in message["card"]["blocks"] if b["type"] == "buttons")["buttons"]
    return str(buttons[0]["value"])


async def stored(server: Running) -> tuple[list[tuple[str, str]], list[str], int]:
    async with server.runtime.db.session() as session:
        engagement = [(e.kind, e.user_id) for e in await session.exec(select(Engagement).order_by(Engagement.id))]
        claims = [c.user_id for c in await session.exec(select(Claim))]
        reactions = (await session.exec(select(func.count()).select_from(FeedbackReaction))).one()
    return engagement, claims, reactions


async def test_forged_item_ids_are_refused_over_http(db_url: str) -> None:
    async with running_app(db_url) as server, await server.sandbox_session() as session:
        api = f"{server.url}/sandbox/api/"
        await server.runtime.features.stations.ingest.ingest(ITEMS)
        async with server.runtime.db.session() as db:
            ids = {f.external_id: str(f.id) for f in await db.exec(select(Feedback))}
        secret_card = await card_of(session, server, "mei", "C-product", "double-charged")
        assert value_of(secret_card) == ids["secret"]
        await call(session, api, "action", {"as": "mei", "message_id": secret_card["id"],
                                            "action_id": "fb:claim", "value": ids["secret"]})
        before = await stored(server)
        assert before[1] == ["mei"]

        seen_card = await card_of(session, server, "ben", "C-cx", "Support answered")
        await call(session, api, "send", {"as": "ben", "channel_id": "C-general", "text": "hi all"})
        own = next(m for m in reversed(await state(session, server.url, "ben")) if m["channel_id"] == "C-general")
        for message in (seen_card, own):
            for action in ("fb:claim", "fb:react:insight", "fb:done", "fb:discuss"):
                await call(session, api, "action", {"as": "ben", "message_id": message["id"],
                                                    "action_id": action, "value": ids["secret"]})
        refusals = [m for m in await state(session, server.url, "ben") if m.get("ephemeral_to") == "ben"]
        assert len(refusals) == 8 and all(m["card"]["fallback"] == NOT_THIS_CARD for m in refusals)
        assert not any("Mei" in str(m["card"]) for m in refusals)  # who follows up is not told
        answer = await call(session, api, "form", {"as": "ben", "form_id": f"fb-done:{ids['secret']}",
                                                   "values": {"note": "INJECTED by ben"},
                                                   "metadata": "C-product"})
        assert answer["ok"] is False and "Mei" not in str(answer)
        assert await stored(server) == before

        await call(session, api, "action", {"as": "ben", "message_id": seen_card["id"],
                                            "action_id": "fb:claim", "value": ids["seen"]})
        engagement, claims, _ = await stored(server)
        assert engagement[-1] == ("claim", "ben") and sorted(claims) == ["ben", "mei"]
