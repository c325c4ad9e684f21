"""After an erasure the customer's feedback stays out: a tool re-sending an erased item (over `/api/feedback` or a
registered source's webhook), or a new item with the erased e-mail address, is refused and nothing of it is stored
or posted; on SQLite, the next item given an erased item's freed id still gets its cards."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from adapters.sources.delighted import KIND as DELIGHTED_KIND
from adapters.sources.registry import add_source, secret_box
from bot.governance.tombstones import ERASED, email_digest, normal_email
from storage.tables import Delivery, ErasedFeedback, Feedback
from tests.governance.test_erase_customer import EMAIL, ITEMS, MARKER, cli, plant
from tests.support.server import Running, running_app
from tests.support.waiting import eventually

TOKEN = "erasure-test-token"
DELIGHTED = Path(__file__).parent.parent / "fixtures" / "sources" / "delighted" / "webhook_example.json"
DELIGHTED_KEY = "delighted-api-key-0123"


@pytest.fixture
async def server(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    async with running_app(db_url, EARSHOT_INGEST_TOKEN=TOKEN) as running:
        yield running


async def post(server: Running, items: list[dict[str, object]]) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{server.url}/api/feedback", json=items, headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
        assert answer.status == 202, await answer.text()
        return await answer.json()


async def stored(server: Running, external_ids: list[str]) -> tuple[int, int]:
    """How many of these items are stored, and how many cards of any item are queued or posted."""
    async with server.runtime.db.session() as session:
        items = (await session.exec(select(func.count()).select_from(Feedback).where(
            col(Feedback.external_id).in_(external_ids)))).one()
        cards = (await session.exec(select(func.count()).select_from(Delivery).where(
            Delivery.subject_kind == "feedback"))).one()
    return items, cards


async def test_an_erased_customer_stays_out_over_the_api(server: Running, capsys: pytest.CaptureFixture[str]) -> None:
    await plant(server)
    assert await cli("erase", "customer", "--email", EMAIL) == 0
    _, cards = await stored(server, [])
    resent = {**ITEMS[0], "text": f"{MARKER} (sent again)"}
    new = {"id": "z-9", "source": "typeform", "text": f"{MARKER}, once more", "score": 1, "score_type": "nps",
           "customer": {"email": f"Erin <{EMAIL.upper()}>"}}
    other = {"id": "o-1", "source": "typeform", "text": "Someone else: exports are fine", "score": 8}
    answer = await post(server, [resent, new, other])
    assert answer == {"accepted": 1, "updated": 0, "duplicates": 0,
                      "rejected": [{"index": 0, "error": ERASED}, {"index": 1, "error": ERASED}]}
    assert (await stored(server, ["z-1", "z-9"]))[0] == 0

    async def others_card_only() -> bool:
        return (await stored(server, []))[1] > cards
    await eventually(others_card_only, 10)  # the unrelated item's cards are queued; none of the erased
    async with server.runtime.db.session() as session:
        texts = json.dumps([d.card for d in await session.exec(select(Delivery))], ensure_ascii=False)
        tombstones = list(await session.exec(select(ErasedFeedback.digest)))
    assert MARKER not in texts
    assert EMAIL.lower() not in json.dumps(tombstones) and len(tombstones) == 3  # the address and its two items


async def test_an_item_erased_by_source_and_id_stays_out_and_the_customer_may_write_again(
        server: Running, capsys: pytest.CaptureFixture[str]) -> None:
    await plant(server)
    assert await cli("erase", "customer", "--source", "zendesk", "--id", "z-2") == 0
    again = {**ITEMS[1], "customer": {"email": "someone.new@example.com"}}  # whatever address it carries now
    later = {"id": "z-3", "source": "zendesk", "text": "Fixed now, thanks", "customer": {"email": EMAIL}}
    answer = await post(server, [again, later])
    assert answer["rejected"] == [{"index": 0, "error": ERASED}] and answer["accepted"] == 1


async def test_a_source_resending_an_erased_item_is_refused(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    async with running_app(db_url) as running:
        await add_source(running.runtime.db, secret_box(running.runtime.core.services.keys), DELIGHTED_KIND, "nps",
                         {"secret": DELIGHTED_KEY}, {})
        raw = DELIGHTED.read_bytes()
        signature = "sha256=" + hmac.new(DELIGHTED_KEY.encode(), raw, hashlib.sha256).hexdigest()

        async def deliver() -> dict[str, object]:
            async with aiohttp.ClientSession() as http, http.post(
                    f"{running.url}/api/sources/nps", data=raw,
                    headers={"X-Delighted-Webhook-Signature": signature}) as answer:
                assert answer.status == 202
                return await answer.json()

        assert (await deliver())["accepted"] == 1
        assert await cli("erase", "customer", "--email", "Charlie_Gravis@Example.com") == 0
        assert (await deliver())["rejected"] == [{"index": 0, "error": ERASED}]
        assert (await stored(running, ["5435"]))[0] == 0


async def test_the_next_item_given_an_erased_items_id_gets_its_cards(server: Running,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """SQLite gives a new row the highest freed rowid: the erased cards' dedupe keys and subject must not be its."""
    ids = await plant(server)
    assert await cli("erase", "customer", "--email", EMAIL) == 0
    new = {"id": "other-1", "source": "delighted", "text": "A different customer: export is slow", "score": 3,
           "score_type": "nps", "customer": {"email": "new.person@example.com"}}
    assert (await server.runtime.features.stations.ingest.ingest([new])).accepted == 1
    async with server.runtime.db.session() as session:
        item = (await session.exec(select(Feedback).where(Feedback.external_id == "other-1"))).one()
        erased = list(await session.exec(select(Delivery).where(Delivery.subject_kind == "erased")))
    if server.runtime.db.is_sqlite:
        assert item.id in ids  # the case this guards against
    assert erased and all(d.dedupe_key == f"erased:{d.id}" and d.subject_id is None for d in erased)

    async def posted() -> bool:
        async with server.runtime.db.session() as session:
            return (await session.exec(select(func.count()).select_from(Delivery).where(
                Delivery.subject_kind == "feedback", Delivery.subject_id == item.id,
                Delivery.status == "sent"))).one() >= 2
    await eventually(posted, 15)


def test_addresses_are_compared_as_mailboxes() -> None:
    nfc = "jos\u00e9@b\u00fccher.de"
    assert normal_email("JOS\u0065\u0301@B\u00fcCHER.de") == normal_email(nfc) == "jos\u00e9@xn--bcher-kva.de"
    assert normal_email("Jos\u00e9 <jos\u00e9@xn--bcher-kva.DE>") == normal_email(nfc)
    assert normal_email("STRASSE@x.de") != normal_email("stra\u00dfe@x.de")  # two mailboxes, not one
    assert normal_email("not an address") is None and normal_email("a@") is None
    keys = ("k" * 32,)
    assert email_digest(keys, "Erin <ERIN@example.com>") == email_digest(keys, "erin@example.com ")
