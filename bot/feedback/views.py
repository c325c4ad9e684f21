"""Loading an item with its engagement, and re-rendering every posted copy of its card."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.feedback.card import REACTIONS, FeedbackView, feedback_card
from bot.feedback.redact import Redactor
from bot.outbox import Outbox
from storage.tables import Claim, Engagement, Feedback, FeedbackReaction, Person


async def display_name(session: AsyncSession, platform: str, user_id: str) -> str:
    name = (await session.exec(select(Person.display_name).where(
        Person.platform == platform, Person.user_id == user_id))).first()
    return name or user_id


async def load_view(session: AsyncSession, feedback_id: int) -> FeedbackView | None:
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None:
        return None
    counts = dict((await session.exec(
        select(FeedbackReaction.reaction, func.count()).where(
            FeedbackReaction.feedback_id == feedback_id, col(FeedbackReaction.active).is_(True),
            col(FeedbackReaction.reaction).in_(list(REACTIONS)))
        .group_by(col(FeedbackReaction.reaction)))).all())
    comments = (await session.exec(select(func.count()).where(
        Engagement.feedback_id == feedback_id, Engagement.kind == "comment"))).one()
    view = FeedbackView(feedback, counts=counts, comments=comments)
    claim = await session.get(Claim, feedback_id)
    if claim is not None:
        view.owner = await display_name(session, claim.platform, claim.user_id)
        view.done_note = claim.note if claim.done_at else None
    return view


async def refresh_cards(session: AsyncSession, outbox: Outbox, redact: Redactor, feedback_id: int) -> None:
    """Queue an edit of every copy of the item's card (coalesced by the outbox)."""
    view = await load_view(session, feedback_id)
    if view is None:
        return
    card = feedback_card(view, redact)
    for delivery in await outbox.posted(session, "feedback", feedback_id):
        if delivery.status in ("pending", "sending", "sent"):
            await outbox.update(session, delivery, card)
