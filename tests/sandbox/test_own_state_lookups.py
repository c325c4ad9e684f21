"""A click answers with the presser's own state only on cards a feature marks (quote cards): a pulse's vote looks
nothing up, so a burst of votes doesn't queue reads behind its writes (bench.vote_burst's p50 went from 28 ms to
3 s when every click did)."""

from __future__ import annotations

from adapters.sandbox.workspace import BOT_ID
from bot.cards import Button, Buttons, Card, Heading
from bot.events import MessageRef
from tests.support.server import Running


async def test_a_click_on_a_card_no_feature_marks_looks_nothing_up(server: Running) -> None:
    workspace = server.workspace
    looked_up: list[list[MessageRef]] = []
    lookup = workspace._marks
    assert lookup is not None

    async def counting(refs: list[MessageRef]):  # type: ignore[no-untyped-def]
        looked_up.append(refs)
        return await lookup(refs)

    workspace._marks = counting
    card = Card("Vote", (Heading("Lunch on Friday?"), Buttons((Button("vote:1:1:0", "👍 Yes", "0"),))))
    posted = await workspace.post("C-cx", BOT_ID, card)
    assert len(looked_up) == 1  # posting asks once whether a feature marks it: none does
    assert await workspace.own("C-cx", str(posted["id"]), "ana") == []
    assert len(looked_up) == 1  # and the click asks nothing more
