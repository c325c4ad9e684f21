"""What a request to /api/messages must be before anything reads it as an activity or runs a turn.

In emulator mode nothing is authenticated, so the emulator's own traits are required instead: a Host naming this
machine (a page can't reach it through DNS rebinding) and no Origin. Browsers put an Origin on every cross-site
POST and fetch(); the Bot Framework Emulator posts from Electron's main process with Node's HTTP client, which
sends none. With an app id the token decides, so neither header matters there."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.config import is_loopback_host

CONTENT_TYPE = "application/json"


def refusal(request: web.Request, emulator: bool) -> tuple[int, str] | None:
    """(status, reason) when the request must be refused before its body is read, else None. The media type is
    compared whole: `text/plain; application/json` is text/plain, which a web page may send anywhere."""
    if request.content_type != CONTENT_TYPE:
        return 415, f"expected an activity as {CONTENT_TYPE}"
    if not emulator:
        return None
    if "Origin" in request.headers:
        return 403, "the Teams emulator takes no requests from web pages"
    if not is_loopback_host(request.host):
        return 403, "the Teams emulator answers to localhost only"
    return None


def activity_problem(body: dict[str, Any]) -> str | None:
    """Why a JSON object is not an activity a turn can run on and answer (the fields botbuilder relies on
    without checking), or None. The answer goes to `serviceUrl`, so it must be a web address."""
    if not isinstance(body.get("type"), str) or not body["type"]:
        return "`type` must be a non-empty string"
    if not _web_address(body.get("serviceUrl")):
        return "`serviceUrl` must be an http or https URL with a host"
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) or not conversation["id"]:
        return "`conversation` must be an object with a non-empty string `id`"
    sender = body.get("from")
    if sender is not None and (not isinstance(sender, dict) or not isinstance(sender.get("id", ""), str)):
        return "`from` must be an object whose `id` is a string"
    return None


def _web_address(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False
