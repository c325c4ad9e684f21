"""How employees engage with a quote card: named reactions, emoji, claims, closing the loop, threads.

Everything is stored once (Engagement.event_key is the platform's event id) and every copy of the card is
re-rendered through the outbox, coalesced. An emoji that means what a reaction button means (views.EMOJI_REACTIONS)
counts on that button; other emoji are stored for the digest only."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import Responder
from bot.cards import Card, Context, FormErrors, Input, Text
from bot.cards import Form as FormSpec
from bot.commands import error_card, record_id
from bot.core import Marks, Services
from bot.events import ActionEvent, Event, FormSubmitted, MessageEvent, MessageRef, ReactionEvent, Target
from bot.feedback.card import REACTIONS
from bot.feedback.redact import Redactor
from bot.feedback.views import EMOJI_PREFIX, EMOJI_REACTIONS, display_name, refresh_cards
from bot.outbox import Outbox
from bot.roles import has_any_role
from bot.text import clean
from storage.tables import Claim, Delivery, Engagement, FeedbackReaction
from storage.upsert import insert_ignore

DOUBLE_CLICK = timedelta(seconds=2)
"""A second click on the same reaction this soon after the first is a double click, not an un-reaction."""
NOTE_LIMIT = 500
TOGGLES = frozenset(f"fb:react:{name}" for name in REACTIONS)
"""The card's on/off buttons (bot.core.Marks)."""
NOT_THIS_CARD = "That button isn't on this item's card as I posted it here, so I did nothing."


class Engagements:
    def __init__(self, services: Services, redact: Redactor) -> None:
        self._services = services
        self._redact = redact

    # -- buttons -----------------------------------------------------------------------------------
    async def on_action(self, event: ActionEvent, responder: Responder) -> None:
        """The item is the one behind the clicked message, never the button's value (client data: a Slack
        payload's value, Teams card data, a sandbox body): a value naming another item is refused."""
        kind = event.action_id.split(":")
        async with self._services.db.session() as session:
            feedback_id = await _card_item(session, event, event.message)
            if feedback_id is None or _int(event.value) != feedback_id:
                await responder.private(error_card(NOT_THIS_CARD))
                return
            match kind:
                case ["fb", "react", name] if name in REACTIONS:
                    await self._toggle(session, event, feedback_id, name)
                case ["fb", "claim"]:
                    await self._claim(session, event, feedback_id, responder)
                case ["fb", "done"]:
                    await self._ask_note(session, event, feedback_id, responder)
                    return
                case ["fb", "discuss"]:
                    await self._open_thread(session, event, feedback_id)
                case _:
                    await responder.private(error_card("That button no longer does anything."))
                    return
            await refresh_cards(session, self._services.outbox, self._redact, feedback_id)
            await session.commit()

    async def _toggle(self, session: AsyncSession, event: ActionEvent, feedback_id: int, name: str) -> None:
        """A click toggles; a second one within DOUBLE_CLICK is taken for a double click. Where the button says
        which state it asked for (ActionEvent.pressed) that state is set: every click counts, repeats are no-ops."""
        now = self._services.clock()
        state = await self._reaction_state(session, event, feedback_id, name)
        if state is None:
            if event.pressed is not False and await self._first_reaction(session, event, feedback_id, name,
                                                                          active=True):
                await self._log(session, event, feedback_id, "reaction", name)
                return
            state = await self._reaction_state(session, event, feedback_id, name)  # a simultaneous click won
            if state is None:
                return
        if event.pressed is not None:
            if state.active == event.pressed:
                return
        elif state.active and now - state.updated_at < DOUBLE_CLICK:
            return
        state.active = not state.active
        state.updated_at = now
        session.add(state)
        await self._log(session, event, feedback_id, "reaction" if state.active else "unreaction", name)

    async def _first_reaction(self, session: AsyncSession, event: Event, feedback_id: int, name: str,
                              active: bool) -> bool:
        return await insert_ignore(session, FeedbackReaction, {
            "feedback_id": feedback_id, "platform": event.platform, "user_id": event.actor.user_id,
            "reaction": name, "active": active, "updated_at": self._services.clock()})

    async def _reaction_state(self, session: AsyncSession, event: Event, feedback_id: int,
                              name: str) -> FeedbackReaction | None:
        return (await session.exec(select(FeedbackReaction).where(
            FeedbackReaction.feedback_id == feedback_id, FeedbackReaction.platform == event.platform,
            FeedbackReaction.user_id == event.actor.user_id, FeedbackReaction.reaction == name)
            .with_for_update())).first()

    async def _claim(self, session: AsyncSession, event: ActionEvent, feedback_id: int,
                     responder: Responder) -> None:
        claimed = await insert_ignore(session, Claim, {
            "feedback_id": feedback_id, "platform": event.platform, "user_id": event.actor.user_id,
            "claimed_at": self._services.clock()})
        if claimed:
            await self._log(session, event, feedback_id, "claim", None)
            await responder.private(Card(fallback="You're following up on this one. Thank you!", blocks=(
                Text("🙋 You're following up on this one — thank you!"),
                Context(("When it's handled, press ✅ Mark done on the card and say what you did.",)))))
            return
        claim = await session.get(Claim, feedback_id)
        if claim is not None and (claim.platform, claim.user_id) == (event.platform, event.actor.user_id):
            await responder.private(Card(fallback="You already follow up on this.", blocks=(
                Text("You're already following up on this one."),)))
            return
        owner = await display_name(session, claim.platform, claim.user_id) if claim else "someone"
        await responder.private(Card(fallback=f"{owner} is already following up.", blocks=(
            Text(f"🙏 {owner} is already following up on this one."),
            Context(("Add what you know in the card's thread — they'll see it.",)))))

    async def _ask_note(self, session: AsyncSession, event: ActionEvent, feedback_id: int,
                        responder: Responder) -> None:
        claim = await session.get(Claim, feedback_id)
        if claim is None:
            await responder.private(error_card("Nobody has claimed this yet: press “I'll follow up” first."))
            return
        if (claim.platform, claim.user_id) != (event.platform, event.actor.user_id) and not await has_any_role(
                session, event.actor):
            owner = await display_name(session, claim.platform, claim.user_id)
            await responder.private(error_card(f"Only {owner}, who follows up on this, can close it."))
            return
        if claim.done_at is not None:
            await responder.private(error_card("This loop is already closed."))
            return
        await responder.open_form(FormSpec(
            form_id=f"fb-done:{feedback_id}", title="Close the loop", submit_label="Mark done",
            metadata=f"{event.channel_id or ''}",
            inputs=(Input("note", "What did we do?", kind="textarea",
                          placeholder="e.g. Refunded the order and fixed the checkout bug",
                          hint=f"Shown on the card for everyone who saw it (up to {NOTE_LIMIT} characters)."),)))

    async def on_done_form(self, event: FormSubmitted, responder: Responder) -> FormErrors | None:
        """The form's id names the item and comes back through the client (Teams card data, the sandbox), so it
        is trusted only as far as the server can check it: the person following up on the item may close it; an
        admin may close someone else's only from a channel the item's card was posted to, as the platform
        (not the client) tells it."""
        feedback_id = _int(event.form_id.split(":", 1)[-1])
        raw = event.values.get("note", "")
        note = clean(raw if isinstance(raw, str) else " ".join(raw))
        if not note:
            return {"note": "Say in a few words what was done."}
        if len(note) > NOTE_LIMIT:
            return {"note": f"Keep it under {NOTE_LIMIT} characters ({len(note)} now)."}
        async with self._services.db.session() as session:
            claim = await session.get(Claim, feedback_id, with_for_update=True) if feedback_id else None
            channel = await self._done_channel(session, event, claim) if claim is not None else None
            if claim is None or channel is None:
                return {"note": "Only the person following up on this item can close it."}
            if claim.done_at is None:
                claim.done_at = self._services.clock()
                claim.note = note
                session.add(claim)
                await self._log(session, event, claim.feedback_id, "done", note, channel_id=channel)
                await refresh_cards(session, self._services.outbox, self._redact, claim.feedback_id)
            await session.commit()
        return None

    async def _done_channel(self, session: AsyncSession, event: FormSubmitted, claim: Claim) -> str | None:
        """Where closing this loop is recorded, or None when `event.actor` may not close it. A form submission's
        channel is the platform's where it has one (Teams: the chat the form was sent to; the sandbox: where it
        was opened); a Slack modal has none and carries it in its metadata, which Slack keeps server-side."""
        acted_in = event.channel_id or event.metadata
        delivered = bool(acted_in) and await _delivered(session, event.platform, acted_in, claim.feedback_id)
        if (claim.platform, claim.user_id) == (event.platform, event.actor.user_id):
            return acted_in if delivered else await _claimed_in(session, claim)
        if delivered and await has_any_role(session, event.actor):
            return acted_in
        return None

    async def _open_thread(self, session: AsyncSession, event: ActionEvent, feedback_id: int) -> None:
        if event.message is None:
            return
        ref = event.message
        await self._services.outbox.send(
            session, Target.channel(ref.platform, ref.channel_id, thread_id=ref.message_id),
            Card(fallback="Discuss this feedback here.", blocks=(
                Text("💬 Discuss this feedback here: what's behind it, who should know, what could we change?"),
                Context(("Replies in this thread are kept with the feedback and counted in the weekly digest.",)))),
            dedupe_key=f"discuss:{ref.platform}:{ref.channel_id}:{ref.message_id}")
        await self._log(session, event, feedback_id, "discuss", None)

    # -- each person's own state -------------------------------------------------------------------
    async def marks(self, platform: str, refs: list[MessageRef]) -> dict[str, Marks]:
        """On each quote card among `refs`: the reaction buttons each person has on, and "Mark done" for the
        person following up (closing the loop is theirs)."""
        wanted = {(ref.channel_id, ref.message_id) for ref in refs if ref.platform == platform}
        if not wanted:
            return {}
        async with self._services.db.session() as session:
            # By message only (ix_delivery_message): SQLite, without statistics, would rather walk every feedback
            # card ever sent by ix_delivery_subject than search a list of channels and ids, so the kind of
            # subject is checked here.
            sent = await session.exec(select(Delivery.message_channel, Delivery.message_id, Delivery.subject_kind,
                                             Delivery.subject_id).where(
                Delivery.platform == platform, col(Delivery.message_channel).in_({channel for channel, _ in wanted}),
                col(Delivery.message_id).in_({message_id for _, message_id in wanted}), Delivery.kind == "send"))
            cards = {message_id: item for channel, message_id, kind, item in sent
                     if (channel, message_id) in wanted and kind == "feedback" and message_id is not None
                     and item is not None}
            own: dict[int, dict[str, set[str]]] = {item: {} for item in cards.values()}
            reacted = await session.exec(select(FeedbackReaction.feedback_id, FeedbackReaction.user_id,
                                                FeedbackReaction.reaction).where(
                col(FeedbackReaction.feedback_id).in_(own), FeedbackReaction.platform == platform,
                col(FeedbackReaction.active).is_(True), col(FeedbackReaction.reaction).in_(REACTIONS)))
            for item, user, name in reacted:
                own[item].setdefault(user, set()).add(f"fb:react:{name}")
            claims = await session.exec(select(Claim.feedback_id, Claim.user_id).where(
                col(Claim.feedback_id).in_(own), Claim.platform == platform, col(Claim.done_at).is_(None)))
            for item, user in claims:
                own[item].setdefault(user, set()).add("fb:done")
        return {message_id: Marks(TOGGLES, {user: frozenset(ids) for user, ids in own[item].items()})
                for message_id, item in cards.items()}

    # -- emoji and thread replies on the card message --------------------------------------------
    async def on_reaction(self, event: ReactionEvent) -> None:
        async with self._services.db.session() as session:
            feedback_id = await _card_item(session, event, event.message)
            if feedback_id is None:
                return
            name = f"{EMOJI_PREFIX}{event.emoji}"[:64]
            if not await self._first_reaction(session, event, feedback_id, name, active=event.added):
                state = await self._reaction_state(session, event, feedback_id, name)
                if state is not None:
                    state.active = event.added
                    state.updated_at = self._services.clock()
                    session.add(state)
            await self._log(session, event, feedback_id, "reaction" if event.added else "unreaction", event.emoji)
            if event.emoji in EMOJI_REACTIONS:  # other emoji change nothing on the card
                await refresh_cards(session, self._services.outbox, self._redact, feedback_id)
            await session.commit()

    async def on_message(self, event: MessageEvent) -> None:
        if event.thread_id is None or event.channel_id is None:
            return
        async with self._services.db.session() as session:
            delivery = await _card_delivery(session, event.platform, event.channel_id, event.thread_id)
            if delivery is None or delivery.subject_id is None:
                return
            await self._log(session, event, delivery.subject_id, "comment", clean(event.text)[:4000])
            await refresh_cards(session, self._services.outbox, self._redact, delivery.subject_id)
            await session.commit()

    async def _log(self, session: AsyncSession, event: Event, feedback_id: int, kind: str,
                   value: str | None, channel_id: str | None = None) -> None:
        await insert_ignore(session, Engagement, {
            "event_key": f"{event.platform}:{event.event_id}:{kind}"[:300], "feedback_id": feedback_id,
            "platform": event.platform, "channel_id": channel_id or event.channel_id or "",
            "user_id": event.actor.user_id,
            "kind": kind, "value": value, "created_at": self._services.clock()})


async def _card_delivery(session: AsyncSession, platform: str, channel_id: str, message_id: str) -> Delivery | None:
    """The quote card posted as this message, if it is one."""
    delivery = await Outbox.find_by_message(session, platform, channel_id, message_id)
    return delivery if delivery is not None and delivery.subject_kind == "feedback" else None


async def _card_item(session: AsyncSession, event: Event, ref: MessageRef | None) -> int | None:
    """The item whose card `ref` is, when the event happened on it where it was posted: the message as the
    platform names it, in the channel the person acted in."""
    if ref is None or ref.platform != event.platform or event.channel_id not in (None, ref.channel_id):
        return None
    delivery = await _card_delivery(session, ref.platform, ref.channel_id, ref.message_id)
    return delivery.subject_id if delivery is not None else None


async def _delivered(session: AsyncSession, platform: str, channel_id: str, feedback_id: int) -> bool:
    """Whether the item's card was posted to this channel."""
    found = await session.exec(select(Delivery.id).where(
        Delivery.subject_kind == "feedback", Delivery.subject_id == feedback_id, Delivery.kind == "send",
        Delivery.platform == platform, Delivery.message_channel == channel_id))
    return found.first() is not None


async def _claimed_in(session: AsyncSession, claim: Claim) -> str:
    """The channel of the card the claim was made on (stored with the claim's engagement)."""
    found = await session.exec(select(Engagement.channel_id).where(
        Engagement.feedback_id == claim.feedback_id, Engagement.kind == "claim",
        Engagement.platform == claim.platform, Engagement.user_id == claim.user_id).order_by(col(Engagement.id)))
    return found.first() or ""


def _int(value: object) -> int | None:
    """A feedback id from a button or form (client data): None unless the database could hold it."""
    return record_id(value) if isinstance(value, str) else None
