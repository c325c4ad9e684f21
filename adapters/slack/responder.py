"""Answers to the person behind one Slack interaction: ephemeral replies and modals, bypassing the outbox."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.adapter import SlackAdapter
from adapters.slack.blocks import render_card
from adapters.slack.errors import error_code
from adapters.slack.forms import render_modal
from bot.adapter import DeliveryError
from bot.cards import Card, File, Form, Image, text_card
from bot.charts import chart_id
from bot.commands import error_card
from bot.events import Target

log = logging.getLogger(__name__)
BY_DM = "📬 I've sent it to you by direct message: charts and files can't go in a reply only you see."

RESPONSE_URL_TIMEOUT = 5


class SlackResponder:
    """`private` uses the interaction's response_url (works even where the app is not a channel member), then
    chat.postEphemeral, then a DM for surfaces with no channel (a modal, the Home tab)."""

    def __init__(self, adapter: SlackAdapter, user_id: str, *, channel_id: str | None = None,
                 response_url: str | None = None, trigger_id: str | None = None) -> None:
        self._adapter = adapter
        self._user_id = user_id
        self._channel_id = channel_id
        self._response_url = response_url
        self._trigger_id = trigger_id

    async def private(self, card: Card) -> None:
        if self._carries_uploads(card) and await self._by_dm(card):
            card = text_card(BY_DM)
        if self._response_url and await self._via_response_url(card):
            return
        if self._channel_id:
            try:
                await self._adapter.post_ephemeral(self._channel_id, self._user_id, card)
                return
            except DeliveryError as error:  # e.g. not_in_channel: a DM still reaches them
                log.info("ephemeral reply in %s failed (%s); sending a DM", self._channel_id, error.reason)
        try:
            await self._adapter.send(Target.user(self._adapter.platform, self._user_id), card)
        except DeliveryError as error:
            log.warning("private reply to %s failed: %s", self._user_id, error.reason)

    @staticmethod
    def _carries_uploads(card: Card) -> bool:
        """Stored charts and files, which go up as uploads (not blocks); looked for without rendering the card,
        which every private reply (a vote's thanks) would otherwise pay twice."""
        return any(isinstance(b, File) or (isinstance(b, Image) and chart_id(b.url) is not None)
                   for b in card.blocks)

    async def _by_dm(self, card: Card) -> bool:
        """Charts and files go up as uploads, which only a conversation holds, never a reply only one person
        sees: such a card goes to the person's DM (without them where that fails too)."""
        try:
            await self._adapter.send(Target.user(self._adapter.platform, self._user_id), card)
            return True
        except DeliveryError as error:
            log.warning("private card with uploads to %s failed by DM (%s); replying without them", self._user_id,
                        error.reason)
            return False

    async def _via_response_url(self, card: Card) -> bool:
        rendered = render_card(card)
        webhook = AsyncWebhookClient(self._response_url or "", timeout=RESPONSE_URL_TIMEOUT,
                                     session=self._adapter.client.session)
        try:
            response = await webhook.send(text=rendered.text, blocks=rendered.blocks or None,
                                          response_type="ephemeral", replace_original=False)
        except (TimeoutError, aiohttp.ClientError) as error:
            log.warning("response_url failed (%s); falling back to the Web API", error)
            return False
        return response.status_code == 200

    async def open_form(self, form: Form) -> None:
        """views.open needs the interaction's trigger_id, valid for 3 seconds: call this before slow work."""
        if not self._trigger_id:
            await self.private(error_card("That form opens from a slash command or a button; please start there."))
            return
        try:
            await self._adapter.client.views_open(trigger_id=self._trigger_id, view=render_modal(form))
        except SlackApiError as error:
            code = error_code(error)
            log.warning("views.open failed: %s", code)
            hint = "That took too long; please try again." if code == "expired_trigger_id" else f"Slack said {code}."
            await self.private(error_card(f"I couldn't open the form. {hint}"))
