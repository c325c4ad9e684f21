"""Answers to the person behind one Teams turn. Teams has no message only one person sees in a channel, so
private answers go to the person's 1:1 chat with the bot; a card button's answer rides on the invoke response."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from adapters.teams.adapter import TeamsAdapter, card_activity
from adapters.teams.references import References
from adapters.teams.render import PEOPLE_CHOICES, render_form
from adapters.teams.translate import actor, conversation_of, is_card_action, kind_of
from bot.adapter import DeliveryError
from bot.cards import Card, Form
from bot.events import Person

log = logging.getLogger(__name__)


class TurnResponder:
    def __init__(self, context: TurnContext, adapter: TeamsAdapter, references: References,
                 activity: dict[str, Any]) -> None:
        self._context = context
        self._adapter = adapter
        self._references = references
        self._conversation = conversation_of(activity)
        self._personal = kind_of(activity) == "personal"
        self._invoke = is_card_action(activity)
        self._user_id = actor(activity).user_id
        self.notes: list[str] = []
        """What the invoke response tells the person who pressed a card button (shown to them alone)."""

    async def private(self, card: Card) -> None:
        if self._invoke:
            self.notes.append(card.fallback)
            return
        await self._to_person(await self._adapter.activities(card, personal=self._user_id))

    async def open_form(self, form: Form) -> None:
        """Teams opens no modal from a chat message without a task module: the form is a card in the 1:1 chat,
        where only this person can fill it in. A people field lists the members of the conversation it was
        asked for in."""
        people = await self._people() if any(field.kind == "people" for field in form.inputs) else []
        await self._to_person([card_activity(render_form(form, people=people), form.title)])
        if self._invoke and not self._personal:
            self.notes.append(f"I've sent you “{form.title}” in our chat.")

    async def _people(self) -> list[Person]:
        """The first choices of a people field: this conversation's members; in a 1:1 chat, or when they can't
        be listed, the people Earshot has seen on Teams (what typing in the field finds anyway)."""
        return await self._members() or await self._references.find_people("", 0, PEOPLE_CHOICES)

    async def _members(self) -> list[Person]:
        """The members of this turn's channel or group chat (their names also feed the typeahead), or none."""
        if self._personal:
            return []
        try:
            people = await self._adapter.list_members(self._conversation)
        except DeliveryError as error:
            log.info("no member list for %s (%s): the people field offers typeahead only", self._conversation,
                     error.reason)
            return []
        await self._references.remember_names(people)
        return people

    async def _to_person(self, activities: list[Activity]) -> None:
        if not self._personal:
            try:
                await self._adapter.send_to_person(self._user_id, activities)
                return
            except DeliveryError:  # no 1:1 chat possible (app not available to them): answer where they asked
                pass
        for activity in activities:
            await self._context.send_activity(activity)
