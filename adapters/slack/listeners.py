"""Bolt listeners: translate the payload, acknowledge, and hand the neutral event to the core.

The app runs with `process_before_response=True`, so each listener decides when Slack gets its answer: commands
and clicks are acknowledged first and handled in a background task this class tracks (and drains on stop);
a view submission waits for the core (up to `FORM_DEADLINE_SECONDS`) because validation errors must travel in
the acknowledgement itself. Errors the core finds after that, once the modal has closed, go to the person
privately.

Events and the clicks that come in bursts (`BURST_ACTIONS`: votes and reactions on a card in a big channel) run
at most `WORK_CONCURRENCY` at a time. A burst then queues as parked tasks instead of crowding the event loop, so
the acknowledgements of the requests behind it stay fast. Every other click, slash commands and form submissions
skip that queue: they are rare, and may open a modal, whose views.open needs the trigger_id within 3 s.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from adapters.slack import translate
from adapters.slack.adapter import SlackAdapter
from adapters.slack.blocks import HOME_MAX_BLOCKS, render_card
from adapters.slack.errors import calling
from adapters.slack.forms import error_answer, late_errors_card
from adapters.slack.responder import SlackResponder
from adapters.slack.translate import PLATFORM, BadPayload
from bot.adapter import DeliveryError
from bot.cards import FormErrors
from bot.core import Earshot
from bot.events import AnyEvent, Person

log = logging.getLogger(__name__)

WORK_CONCURRENCY = 8
FORM_DEADLINE_SECONDS = 2.5
"""Slack closes a view_submission request after 3 s; past this the modal is closed and the work goes on."""
BURST_ACTIONS = re.compile(r"^(pulse:vote|fb:react):")
"""Clicks that arrive in bursts and never open a form: they wait their turn in the work queue."""
ANY = re.compile(r".+")
T = TypeVar("T")
Json = dict[str, Any]


class SlackListeners:
    def __init__(self, core: Earshot, adapter: SlackAdapter) -> None:
        self._core = core
        self._adapter = adapter
        self._tasks: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(WORK_CONCURRENCY)

    def register(self, app: AsyncApp) -> None:
        app.command(ANY)(self.on_command)
        app.action(ANY)(self.on_action)
        app.view_submission(ANY)(self.on_view_submission)
        for name, listener in self.events().items():
            app.event(name)(listener)

    def events(self) -> dict[str, Callable[..., Coroutine[Any, Any, None]]]:
        """The Events API events Earshot subscribes to (the manifest lists the same)."""
        return {"reaction_added": self.on_reaction, "reaction_removed": self.on_reaction,
                "message": self.on_message, "member_joined_channel": self.on_member_joined,
                "app_home_opened": self.on_home_opened}

    # -- background work ------------------------------------------------------------------------------
    def _spawn(self, work: Coroutine[Any, Any, Any], *, queued: bool = True) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._in_turn(work) if queued else work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    async def _in_turn(self, work: Coroutine[Any, Any, Any]) -> Any:
        async with self._slots:
            return await work

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack background work failed", exc_info=task.exception())

    def _handle(self, event: AnyEvent, responder: SlackResponder, *, queued: bool = True) -> asyncio.Task[Any]:
        """Hand an event to the core, in the workspace of the request (with OAuth installs)."""
        event = replace(event, workspace=self._adapter.clients.workspace())
        return self._spawn(self._core.handle(event, responder), queued=queued)

    async def drain(self, seconds: float) -> None:
        """Let acknowledged work finish before the process stops."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=seconds)

    # -- interactions: ack first ----------------------------------------------------------------------
    async def on_command(self, ack: AsyncAck, body: Json) -> None:
        await ack()
        try:
            event = translate.command_event(body)
        except BadPayload as error:
            log.warning("ignoring a slash command: %s", error)
            return
        self._handle(event, SlackResponder(self._adapter, event.actor.user_id, channel_id=event.channel_id,
                                           response_url=body.get("response_url"), trigger_id=event.trigger_id),
                     queued=False)

    async def on_action(self, ack: AsyncAck, body: Json) -> None:
        await ack()
        try:
            events = translate.action_events(body)
        except BadPayload as error:
            log.warning("ignoring a block action: %s", error)
            return
        for event in events:
            self._handle(event, SlackResponder(self._adapter, event.actor.user_id, channel_id=event.channel_id,
                                               response_url=body.get("response_url"), trigger_id=event.trigger_id),
                         queued=BURST_ACTIONS.match(event.action_id) is not None)

    async def on_view_submission(self, ack: AsyncAck, body: Json) -> None:
        try:
            event = translate.form_event(body)
        except BadPayload as error:
            log.warning("ignoring a view submission: %s", error)
            await ack()
            return
        responder = SlackResponder(self._adapter, event.actor.user_id, trigger_id=body.get("trigger_id"))
        task = self._handle(event, responder, queued=False)  # not behind the queue: the 3 s limit
        view: Json = body.get("view") or {}
        done, _ = await asyncio.wait({task}, timeout=FORM_DEADLINE_SECONDS)
        if task not in done:
            await ack()
            self._spawn(self._tell_late_errors(task, responder, view), queued=False)
            return
        errors = _form_errors(task)
        answer = error_answer(errors, view.get("blocks") or []) if errors else None
        if answer is None:
            await ack()
        else:
            await ack(**answer)

    async def _tell_late_errors(self, task: asyncio.Task[Any], responder: SlackResponder, view: Json) -> None:
        """The modal closed before the core answered: errors it finds now reach the person privately."""
        await asyncio.wait({task})
        errors = _form_errors(task)
        if errors:
            await responder.private(late_errors_card(errors, view))

    # -- Events API: bolt acknowledges once the listener returns, so return at once ---------------------
    async def on_reaction(self, body: Json) -> None:
        event = _translated(translate.reaction_event, body)
        if event is not None:
            self._handle(event, SlackResponder(self._adapter, event.actor.user_id, channel_id=event.channel_id))

    async def on_message(self, body: Json, context: AsyncBoltContext) -> None:
        event = _translated(translate.message_event, body, context.bot_user_id)
        if event is not None:
            self._handle(event, SlackResponder(self._adapter, event.actor.user_id, channel_id=event.channel_id))

    async def on_member_joined(self, body: Json, context: AsyncBoltContext) -> None:
        event = _translated(translate.members_added, body, context.bot_user_id)
        if event is not None:
            self._handle(event, SlackResponder(self._adapter, event.actor.user_id, channel_id=event.channel_id))

    async def on_home_opened(self, body: Json) -> None:
        user_id = _translated(translate.home_opened_by, body)
        if user_id is not None:
            self._spawn(self._publish_home(user_id, self._adapter.clients.workspace()))

    async def _publish_home(self, user_id: str, workspace: str | None) -> None:
        card = await self._core.home_card(Person(PLATFORM, user_id), workspace)
        view = {"type": "home", "blocks": render_card(card, max_blocks=HOME_MAX_BLOCKS).blocks}
        try:
            await calling(self._adapter.client.views_publish(user_id=user_id, view=view))
        except DeliveryError as error:
            log.warning("publishing the Home tab for %s failed: %s", user_id, error.reason)


def _form_errors(task: asyncio.Task[Any]) -> FormErrors | None:
    """What a finished form handler returned (a failure was logged and answered by the core)."""
    return task.result() if not task.cancelled() and task.exception() is None else None


def _translated(translate_fn: Callable[..., T], *args: Any) -> T | None:
    """An Events API payload we cannot read is logged and acknowledged: a 500 would only make Slack resend it."""
    try:
        return translate_fn(*args)
    except BadPayload as error:
        log.warning("ignoring an event: %s", error)
        return None
