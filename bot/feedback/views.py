"""Loading an item with its engagement, and re-rendering every posted copy of its card."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.feedback.card import REACTIONS, FeedbackView, feedback_card
from bot.feedback.redact import Redactor
from bot.governance.former import FORMER_COLLEAGUE, is_erased
from bot.outbox import Outbox
from storage.tables import Claim, Engagement, Feedback, FeedbackReaction, Person

EMOJI_PREFIX = "emoji:"
"""How an emoji reaction is stored in FeedbackReaction.reaction (a button's reaction is stored by its name)."""
EMOJI_REACTIONS = {
    "bulb": "insight", "💡": "insight",
    "heart": "moved", "❤️": "moved", "❤": "moved",
    "hammer_and_wrench": "fixable", "🛠️": "fixable", "🛠": "fixable",
    "fire": "urgent", "🔥": "urgent",
}
"""Emoji (Slack and Teams names, and the characters) that say what a reaction button says: they count on that
button, once per person whether they clicked, reacted, or both. Other emoji are stored but not shown."""


async def display_name(session: AsyncSession, platform: str, user_id: str) -> str:
    if is_erased(user_id):  # erased on request (bot.governance.erasure): their acts stay, their name goes
        return FORMER_COLLEAGUE
    name = (await session.exec(select(Person.display_name).where(
        Person.platform == platform, Person.user_id == user_id))).first()
    return name or user_id


async def load_view(session: AsyncSession, feedback_id: int) -> FeedbackView | None:
    feedback = await session.get(Feedback, feedback_id)
    if feedback is None:
        return None
    reacted = await session.exec(select(FeedbackReaction.reaction, FeedbackReaction.platform,
                                        FeedbackReaction.user_id).where(
        FeedbackReaction.feedback_id == feedback_id, col(FeedbackReaction.active).is_(True),
        col(FeedbackReaction.reaction).in_([*REACTIONS, *(EMOJI_PREFIX + e for e in EMOJI_REACTIONS)])))
    people: dict[str, set[tuple[str, str]]] = {}
    for reaction, platform, user_id in reacted:
        key = EMOJI_REACTIONS[reaction.removeprefix(EMOJI_PREFIX)] if reaction.startswith(EMOJI_PREFIX) else reaction
        people.setdefault(key, set()).add((platform, user_id))
    comments = (await session.exec(select(func.count()).where(
        Engagement.feedback_id == feedback_id, Engagement.kind == "comment"))).one()
    view = FeedbackView(feedback, counts={key: len(who) for key, who in people.items()}, comments=comments)
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
