"""POST /api/messages: refuse what isn't a Bot Framework activity (415 for another media type; 403 for a web
page or a foreign Host in emulator mode; 400 for a body of the wrong shape), authenticate (401 for any bad token,
never 500), then run the turn (502 when talking to the activity's serviceUrl fails)."""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.exceptions import ClientException, DeserializationError, SerializationError
from requests import RequestException

from adapters.teams import inbound
from adapters.teams.connection import Authentication
from adapters.teams.turn import TeamsBot
from bot import json_input

log = logging.getLogger(__name__)

PATH = "/api/messages"
CONNECTOR_FAILURES = (ClientException, DeserializationError, SerializationError, RequestException,
                      aiohttp.ClientError)
"""What talking to the Bot Connector raises: msrest's own errors (a refused or unsent request, a reply it can't
validate, an answer that isn't the JSON it expects, such as any 404 page), requests' and aiohttp's (files)."""


class MessagesRoute:
    def __init__(self, cloud: CloudAdapter, authentication: Authentication, bot: TeamsBot, emulator: bool) -> None:
        self._cloud = cloud
        self._authentication = authentication
        self._bot = bot
        self._emulator = emulator

    def mount(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        refused = inbound.refusal(request, self._emulator)
        if refused is not None:
            status, reason = refused
            log.info("Teams request refused (%d): %s", status, reason)
            return web.json_response({"error": reason}, status=status)
        try:
            body = json_input.loads(await request.read())
        except json_input.BadJSON as error:
            return web.json_response({"error": f"the body must be JSON: {error}"}, status=400)
        activity = _activity(body)
        if isinstance(activity, str):
            return web.json_response({"error": f"the body must be a Bot Framework activity: {activity}"}, status=400)
        try:
            authenticated = await self._authentication.authenticate_request(
                activity, request.headers.get("Authorization", ""))
        except Exception as error:  # PermissionError, jwt errors, even TypeError: a token we can't accept
            level = logging.WARNING if isinstance(error, RequestException) else logging.INFO
            log.log(level, "Teams request refused: %s: %s", type(error).__name__, error)  # keys unreachable: warn
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            response = await self._cloud.process_activity(authenticated, activity, self._bot.on_turn)
        except CONNECTOR_FAILURES as error:  # the turn's own reply was refused, unsent or answered oddly
            log.warning("Teams turn could not talk to %s: %s: %s", activity.service_url, type(error).__name__,
                        str(error)[:300])
            return web.json_response({"error": f"talking to the activity's serviceUrl failed "
                                               f"({type(error).__name__})"}, status=502)
        if response is None:
            return web.Response(status=201)
        return web.json_response(response.body, status=response.status)  # our invoke bodies are plain JSON


def _activity(body: object) -> Activity | str:
    """The activity a turn can run on, or why the body is not one."""
    if not isinstance(body, dict):
        return "a JSON object"
    problem = inbound.activity_problem(body)
    if problem is not None:
        return problem
    try:
        return Activity().deserialize(body)
    except ValueError as error:  # azure's DeserializationError: other fields of the wrong JSON types
        return f"a field has the wrong JSON type ({str(error)[:200]})"
