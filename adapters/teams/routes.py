"""POST /api/messages: authenticate first (401 for any bad token, never 500), then run the turn (502 when its
reply can't be delivered to the service URL)."""

from __future__ import annotations

import logging

from aiohttp import web
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity
from msrest.exceptions import ClientRequestError, HttpOperationError
from requests import RequestException

from adapters.teams.connection import Authentication
from adapters.teams.turn import TeamsBot
from bot import json_input

log = logging.getLogger(__name__)

PATH = "/api/messages"


class MessagesRoute:
    def __init__(self, cloud: CloudAdapter, authentication: Authentication, bot: TeamsBot) -> None:
        self._cloud = cloud
        self._authentication = authentication
        self._bot = bot

    def mount(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if "application/json" not in request.headers.get("Content-Type", ""):
            return web.json_response({"error": "expected an activity as application/json"}, status=415)
        try:
            body = json_input.loads(await request.read())
        except json_input.BadJSON as error:
            return web.json_response({"error": f"the body must be JSON: {error}"}, status=400)
        try:
            activity = Activity().deserialize(body) if isinstance(body, dict) else None
        except ValueError:  # azure's DeserializationError: fields of the wrong JSON types
            activity = None
        if activity is None or not activity.type:
            return web.json_response({"error": "the body must be a Bot Framework activity"}, status=400)
        try:
            authenticated = await self._authentication.authenticate_request(
                activity, request.headers.get("Authorization", ""))
        except Exception as error:  # PermissionError, jwt errors, even TypeError: a token we can't accept
            level = logging.WARNING if isinstance(error, RequestException) else logging.INFO
            log.log(level, "Teams request refused: %s: %s", type(error).__name__, error)  # keys unreachable: warn
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            response = await self._cloud.process_activity(authenticated, activity, self._bot.on_turn)
        except (HttpOperationError, ClientRequestError) as error:  # the turn's own reply was refused or unsent
            log.warning("Teams turn could not answer at %s: %s", activity.service_url, error)
            return web.json_response({"error": "the reply could not be delivered to the activity's serviceUrl"},
                                     status=502)
        if response is None:
            return web.Response(status=201)
        return web.json_response(response.body, status=response.status)  # our invoke bodies are plain JSON
