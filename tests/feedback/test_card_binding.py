"""An engagement is about the item behind the message it happened on, never the id a client sends: a button's
value, a form's id or its metadata naming another item is refused and stores nothing (issue 14, point 7)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlmodel import func, select

from bot.events import ActionEvent, FormSubmitted, MessageRef, Person, ReactionEvent
from bot.feedback.engagement import NOT_THIS_CARD
from storage.engine import Database
from storage.tables import Claim, Delivery, Engagement, Feedback, FeedbackReaction, Station
from tests.support.core import CoreHarness, make_harness
from tests.support.recording import RecordingResponder

ITEMS = [  # general reaches #general only, product reaches #product only, hidden reaches no channel
    {"id": "g", "source": "nps", "text": "The app is fine", "product_area": "general"},
    {"id": "p", "source": "nps", "text": "The new pricing page leaks our roadmap", "product_area": "product"},
    {"id": "h", "source": "nps", "text": "Nobody was shown this", "product_area": "hidden"},
]


@dataclass
class Cards:
    h: CoreHarness
    general: MessageRef  # the general item's card in #general
    product: MessageRef  # the product item's card in #product
    ids: dict[str, str]  # external id → feedback id, as the buttons carry it


@pytest.fixture
async def cards(db: Database) -> Cards:
    h = make_harness(db)
    await h.grant("boss", "manager")
    await h.grant("sam", "admin")
    async with db.session() as session:
        session.add(Station(platform="test", channel_id="C-general", filters={"areas": ["general"]},
                            created_by="test:boss"))
        session.add(Station(platform="test", channel_id="C-product", filters={"areas": ["product"]},
                            created_by="test:boss"))
        await session.commit()
    await h.features.stations.ingest.ingest(ITEMS)
    await h.deliver()
    async with db.session() as session:
        ids = {f.external_id: str(f.id) for f in await session.exec(select(Feedback))}
    refs = {sent.ref.channel_id: sent.ref for sent in h.adapter.sent}
    assert set(refs) == {"C-general", "C-product"}
    return Cards(h, refs["C-general"], refs["C-product"], ids)


def click(ref: MessageRef, action: str, value: str, user: str, channel: str | None = None) -> ActionEvent:
    return ActionEvent(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user),
                       channel_id=channel or ref.channel_id, action_id=action, value=value, message=ref)


def done_form(user: str, feedback_id: str, *, channel: str | None, metadata: str) -> FormSubmitted:
    return FormSubmitted(platform="test", event_id=uuid.uuid4().hex, actor=Person("test", user), channel_id=channel,
                         form_id=f"fb-done:{feedback_id}", values={"note": "closed from outside"}, metadata=metadata)


async def stored(h: CoreHarness) -> tuple[list[tuple[str, int, str, str]], list[tuple[int, str]], int, int]:
    """Engagement (kind, item, channel, user), claims (item, user), reactions held, card edits queued."""
    async with h.db.session() as session:
        engagement = [(e.kind, e.feedback_id, e.channel_id, e.user_id)
                      for e in await session.exec(select(Engagement).order_by(Engagement.id))]
        claims = [(c.feedback_id, c.user_id) for c in await session.exec(select(Claim))]
        reactions = (await session.exec(select(func.count()).select_from(FeedbackReaction))).one()
        edits = (await session.exec(select(func.count()).where(Delivery.kind == "update"))).one()
    return engagement, claims, reactions, edits


async def test_a_button_value_naming_another_item_is_refused_and_stores_nothing(cards: Cards) -> None:
    h, product, hidden = cards.h, cards.ids["p"], cards.ids["h"]
    for value in (product, hidden):  # posted only to #product; never posted anywhere
        for action in ("fb:claim", "fb:react:insight", "fb:done", "fb:discuss"):
            ben = RecordingResponder()
            await h.core.handle(click(cards.general, action, value, "ben"), ben)
            assert ben.last_text == NOT_THIS_CARD and ben.forms == []
    assert await stored(h) == ([], [], 0, 0)
    assert len(h.adapter.sent) == 2  # no thread opened under any card


async def test_the_refusal_does_not_say_who_follows_up(cards: Cards) -> None:
    h, product = cards.h, cards.ids["p"]
    await h.core.handle(click(cards.product, "fb:claim", product, "mei"), RecordingResponder())
    ben = RecordingResponder()
    await h.core.handle(click(cards.general, "fb:claim", product, "ben"), ben)
    assert "mei" not in ben.last_text.lower() and "follow" not in ben.last_text
    assert (await stored(h))[1] == [(int(product), "mei")]


async def test_a_click_on_a_message_that_is_no_card_or_elsewhere_is_refused(cards: Cards) -> None:
    h, general = cards.h, cards.ids["g"]
    for ref, channel in ((MessageRef("test", "C-general", "no-such-message"), None),
                         (cards.general, "C-product"),  # the message is in another channel than the click
                         (MessageRef("other", "C-general", cards.general.message_id), None)):
        ben = RecordingResponder()
        await h.core.handle(click(ref, "fb:claim", general, "ben", channel), ben)
        assert ben.last_text == NOT_THIS_CARD
    await h.core.handle(ReactionEvent(platform="test", event_id="r1", actor=Person("test", "ben"),
                                      channel_id="C-general", emoji="fire", added=True, message=cards.product),
                        RecordingResponder())
    assert await stored(h) == ([], [], 0, 0)


async def test_the_click_on_the_items_own_card_still_counts(cards: Cards) -> None:
    h, general = cards.h, cards.ids["g"]
    ben = RecordingResponder()
    await h.core.handle(click(cards.general, "fb:react:insight", general, "ben"), ben)
    await h.core.handle(click(cards.general, "fb:claim", general, "ben"), ben)
    assert "You're following up" in ben.last_text
    engagement, claims, reactions, _ = await stored(h)
    assert engagement == [("reaction", int(general), "C-general", "ben"), ("claim", int(general), "C-general", "ben")]
    assert claims == [(int(general), "ben")] and reactions == 1


async def test_a_forged_done_form_is_refused(cards: Cards) -> None:
    h, general, product = cards.h, cards.ids["g"], cards.ids["p"]
    await h.core.handle(click(cards.product, "fb:claim", product, "mei"), RecordingResponder())
    before = await stored(h)
    refusal = {"note": "Only the person following up on this item can close it."}
    # Ben holds no claim: an item claimed by Mei, an unclaimed one, one never posted, an absurd id
    for item in (product, general, cards.ids["h"], "99999999999999999999"):
        assert await h.core.handle(done_form("ben", item, channel="C-general", metadata="C-general"),
                                   RecordingResponder()) == refusal
    # an admin may close someone else's loop, but only from a channel the item's card went to
    for channel, metadata in (("C-general", "C-general"), (None, "C-general"), ("D-sam", "C-product")):
        assert await h.core.handle(done_form("sam", product, channel=channel, metadata=metadata),
                                   RecordingResponder()) == refusal
    assert await stored(h) == before
    async with h.db.session() as session:
        assert (await session.get(Claim, int(product))).done_at is None  # type: ignore[union-attr]


async def test_the_owner_closes_the_loop_where_the_card_was_claimed(cards: Cards) -> None:
    """Teams sends the form to the person's 1:1 chat, so the submission comes from there (and its metadata is
    the client's word): the loop is recorded in the channel of the card the claim was made on."""
    h, product = cards.h, cards.ids["p"]
    await h.core.handle(click(cards.product, "fb:claim", product, "mei"), RecordingResponder())
    assert await h.core.handle(done_form("mei", product, channel="D-mei", metadata="C-general"),
                               RecordingResponder()) is None
    engagement, _, _, _ = await stored(h)
    assert engagement[-1] == ("done", int(product), "C-product", "mei")


async def test_an_admin_closes_a_loop_from_the_cards_channel(cards: Cards) -> None:
    h, product = cards.h, cards.ids["p"]
    await h.core.handle(click(cards.product, "fb:claim", product, "mei"), RecordingResponder())
    sam = RecordingResponder()
    await h.core.handle(click(cards.product, "fb:done", product, "sam"), sam)
    (form,) = sam.forms
    assert await h.core.handle(done_form("sam", product, channel=None, metadata=form.metadata),
                               RecordingResponder()) is None
    assert (await stored(h))[0][-1] == ("done", int(product), "C-product", "sam")
