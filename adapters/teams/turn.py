"""The bot's turn handler: remember where the turn came from, hand its events to the core, answer invokes."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from adapters.teams.adapter import TeamsAdapter
from adapters.teams.files import Consent, consent_of
from adapters.teams.ids import PLATFORM
from adapters.teams.people import search_of, search_response
from adapters.teams.references import References
from adapters.teams.render import errors_text, submitted_card
from adapters.teams.responder import TurnResponder
from adapters.teams.translate import (
    actor,
    conversation_reference,
    event_id,
    events,
    is_card_action,
    json_dict,
    json_str,
)
from bot.commands import error_card
from bot.core import Earshot
from bot.events import FormSubmitted

log = logging.getLogger(__name__)
MESSAGE_RESPONSE = "application/vnd.microsoft.activity.message"
CARD_RESPONSE = "application/vnd.microsoft.card.adaptive"
ACKNOWLEDGED = "Got it ✓"
TITLE_CHARS = 150


def invoke_message(text: str) -> dict[str, Any]:
    return {"statusCode": 200, "type": MESSAGE_RESPONSE, "value": text}


def invoke_card(card: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "type": CARD_RESPONSE, "value": card}


def activity_json(activity: Activity) -> dict[str, Any]:
    """The activity as JSON for the pure translators. botbuilder's model keeps what it doesn't know of an entity
    (a mention's `mentioned` id and `text`) aside, and serializing leaves it out: it is put back."""
    data: dict[str, Any] = activity.serialize()
    if activity.entities:
        data["entities"] = [{**(getattr(entity, "additional_properties", None) or {}), **entity.serialize()}
                            for entity in activity.entities if entity is not None]
    return data


class TeamsBot:
    """botbuilder's `Bot`: `on_turn` runs once per inbound activity, inside the HTTP request."""

    def __init__(self, core: Earshot, adapter: TeamsAdapter, references: References) -> None:
        self._core = core
        self._adapter = adapter
        self._references = references

    async def on_turn(self, context: TurnContext) -> None:
        activity = activity_json(context.activity)
        stored = conversation_reference(activity)
        if stored is not None:
            await self._references.remember(stored)
        person = actor(activity)
        await self._references.remember_name(person.user_id, person.name)
        consent = consent_of(activity)
        if consent is not None:
            await self._answer_consent(context, consent, activity)
            return
        search = search_of(activity)
        if search is not None:
            found = await self._references.find_people(search.text, search.skip, search.top)
            await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(
                status=200, body=search_response(found))))
            return
        responder = TurnResponder(context, self._adapter, self._references, activity)
        errors: dict[str, str] | None = None
        submitted: FormSubmitted | None = None
        for event in events(activity, self._core.commands.commands):
            result = await self._core.handle(event, responder)
            if isinstance(event, FormSubmitted):
                submitted, errors = event, result
        if is_card_action(activity):
            body = self._invoke_body(activity, responder, submitted, errors)
            await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                                 value=InvokeResponse(status=200, body=body)))
        elif activity.get("type") == ActivityTypes.invoke:  # every invoke is answered: botbuilder's default is 501
            await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(
                status=400, body={"error": f"Earshot does not handle {json_str(activity.get('name'))!r} invokes"})))
        elif errors:
            await responder.private(error_card(errors_text(errors)))

    async def _answer_consent(self, context: TurnContext, consent: Consent, activity: dict[str, Any]) -> None:
        """Upload an allowed file (once, however often Teams resends the invoke: a Decline doesn't use it up)
        and answer the invoke, whatever happens."""
        once = f"{PLATFORM}:file-consent:{consent.file_id}" if consent.accepted else \
            f"{PLATFORM}:file-consent:{event_id(activity)}"
        try:
            if consent.user_id != consent.answered_by:  # not who it was offered to: nothing, not even a note
                log.warning("file %s was offered to %s, not %s", consent.file_id, consent.user_id,
                            consent.answered_by)
            elif await self._core.first_time(once):
                await context.send_activity(await self._adapter.deliver_file(consent))
        except Exception:
            log.exception("answering the file consent for %s failed", consent.file_id)
            await context.send_activity((await self._adapter.activities(error_card(
                "Something went wrong sending that file; please ask for it again.")))[0])
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200)))

    @staticmethod
    def _invoke_body(activity: dict[str, Any], responder: TurnResponder, submitted: FormSubmitted | None,
                     errors: dict[str, str] | None) -> dict[str, Any]:
        """Errors keep the form (and what was typed) in place; an accepted form is replaced so it can't be sent
        twice; a button gets what the core said to the person, or a short acknowledgement."""
        if errors:
            return invoke_message(errors_text(errors))
        if submitted is not None:  # the title only labels the card that replaces the form, for its sender
            data = json_dict(json_dict(json_dict(activity.get("value")).get("action")).get("data"))
            return invoke_card(submitted_card(json_str(data.get("form_title"))[:TITLE_CHARS] or "Form"))
        return invoke_message("\n".join(responder.notes) or ACKNOWLEDGED)
