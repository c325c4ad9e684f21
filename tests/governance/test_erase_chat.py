"""`/earshot erase …` in chat: admins only, a private dry run with Confirm / Cancel, the erasure on Confirm by the
same admin within the time limit; anyone else's press, a forged value or a late one erases nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import select

from bot.cards import Buttons, Card
from bot.events import ActionEvent, CommandEvent, Person
from bot.governance.erasure import REMOVED
from storage.columns import utcnow
from storage.engine import Database
from storage.tables import Feedback, RoleGrant, Station
from storage.tables.audit import AuditEntry
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

EMAIL = "zoe.zebraquokka@example.com"


async def ask(h: CoreHarness, user: str, text: str) -> RecordingResponder:
    responder = RecordingResponder()
    await h.core.handle(CommandEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                                     channel_id="C1", command="earshot", text=text), responder)
    return responder


async def press(h: CoreHarness, user: str, action_id: str, value: str) -> RecordingResponder:
    responder = RecordingResponder()
    await h.core.handle(ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                                    channel_id="C1", action_id=action_id, value=value), responder)
    return responder


def confirm_value(card: Card) -> str:
    (buttons,) = [b for b in card.blocks if isinstance(b, Buttons)]
    return next(b.value for b in buttons.buttons if b.action_id == "erase:confirm")


async def harness(db: Database) -> CoreHarness:
    h = make_harness(db)
    await h.grant("U-admin", "admin")
    await h.grant("U-boss", "admin")
    await h.grant("U-hr", "hr")
    async with h.db.session() as session:
        session.add(Station(platform="test", channel_id="C1", filters={}, created_by="test:U-admin"))
        await session.commit()
    await h.features.stations.ingest.ingest([{"id": "c-1", "source": "delighted", "text": "Zebraquokka words",
                                             "customer": {"email": EMAIL}}])
    await h.deliver()
    return h


async def items(h: CoreHarness) -> int:
    async with h.db.session() as session:
        return (await session.exec(select(func.count()).select_from(Feedback))).one()


async def test_an_admin_confirms_and_the_customer_is_erased(db: Database) -> None:
    h = await harness(db)
    asked = await ask(h, "U-admin", f"erase customer --email {EMAIL.upper()}")
    (card,) = asked.private_cards
    assert "feedback items: 1" in card.fallback and "Zebraquokka words" not in card.fallback
    value = confirm_value(card)
    assert await items(h) == 1  # the dry run changed nothing

    assert "Only the admin who asked" in (await press(h, "U-boss", "erase:confirm", value)).last_text
    assert "zoe" not in value.lower() and "example" not in value  # sealed: the card's copy shows no address
    forged = value[:-12] + ("A" if value[-12] != "A" else "B") + value[-11:]
    assert "isn't one I made" in (await press(h, "U-admin", "erase:confirm", forged)).last_text
    assert "Cancelled" in (await press(h, "U-admin", "erase:cancel", "cancel")).last_text
    assert await items(h) == 1

    done = await press(h, "U-admin", "erase:confirm", value)
    assert done.last_text.startswith("Erased") and await items(h) == 0
    await h.deliver()
    assert any(REMOVED in card.fallback or any(getattr(b, "text", "") == REMOVED for b in card.blocks)
               for _, card in h.adapter.updates)
    async with h.db.session() as session:
        entry = (await session.exec(select(AuditEntry).where(AuditEntry.action == "erase.customer"))).one()
    assert entry.actor == "test:U-admin" and "zebraquokka" not in str(entry.details)
    assert (await press(h, "U-admin", "erase:confirm", value)).last_text.startswith("Nothing left to erase")


async def test_a_late_confirmation_erases_nothing(db: Database) -> None:
    h = await harness(db)
    value = confirm_value((await ask(h, "U-admin", f"erase customer --email {EMAIL}")).private_cards[0])
    h.core.services.clock = lambda: utcnow() + timedelta(minutes=6)
    assert "expired" in (await press(h, "U-admin", "erase:confirm", value)).last_text
    assert await items(h) == 1


async def test_only_admins_may_erase_and_are_told_why_privately(db: Database) -> None:
    h = await harness(db)
    for user in ("U-hr", "U-nobody"):
        refused = await ask(h, user, f"erase customer --email {EMAIL}")
        assert "Only admins can erase data" in refused.last_text and not h.adapter.sent[1:]
    value = confirm_value((await ask(h, "U-admin", f"erase customer --email {EMAIL}")).private_cards[0])
    async with h.db.session() as session:  # an admin who loses the role before confirming can't confirm
        for grant in await session.exec(select(RoleGrant).where(RoleGrant.user_id == "U-admin")):
            await session.delete(grant)
        await session.commit()
    assert "Only admins can erase data" in (await press(h, "U-admin", "erase:confirm", value)).last_text
    assert await items(h) == 1


async def test_a_person_by_mention_and_wrong_requests(db: Database) -> None:
    h = await harness(db)
    asked = await ask(h, "U-admin", "erase person <@U-gone|gone>")
    assert "Nothing about test:U-gone is stored" in asked.last_text and "Anonymous pulse answers" in str(
        asked.private_cards[0].blocks)
    assert "platform:user_id" in (await ask(h, "U-admin", "erase person nobody")).last_text
    assert "erase slack people from slack" in (await ask(h, "U-admin", "erase person slack:U1")).last_text
    assert "not an e-mail address" in (await ask(h, "U-admin", "erase customer --email nope")).last_text
    assert "/earshot erase customer --email" in (await ask(h, "U-admin", "erase everything")).last_text
