"""The one gate in front of every sandbox route (page, static files, API, WebSocket, charts, files).

The sandbox trusts its page to say who is acting, so the page itself must be reachable only by the machine's
operator: a per-process secret, printed at start as a link (as notebook servers do), is traded for a cookie;
the Host header must name this machine (DNS rebinding), an Origin must be this origin (cross-site requests and
WebSockets), and API calls take JSON only (a cross-site form can't send it).

Each trade of the link starts a browser session: the cookie is a new session id signed with the secret (not the
secret itself), and every request carries its session id on to the routes (`SESSION`), so the audit log can say
once per session who signed in (adapters/sandbox/sign_ins.py)."""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from bot.config import Settings, is_loopback_host

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFIX = "/sandbox"
WILDCARDS = frozenset({"0.0.0.0", "::", "[::]"})
PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Earshot sandbox</title></head>'
        '<body><h1>Earshot sandbox</h1><p>{}</p></body></html>')
REFUSED = "Open the link Earshot printed when it started (it ends in ?token=…; a new one is made at every start)."
SESSION = web.RequestKey("sandbox_session", str)
"""Where the guard leaves the browser session's id for the routes."""


class Guard:
    """Holds this process's secret and checks every request to the sandbox against it."""

    def __init__(self, settings: Settings) -> None:
        self.token = secrets.token_urlsafe(32)
        self.cookie = f"earshot_sandbox_{settings.port}"  # cookies ignore ports: one per local server
        host = settings.listen_host.lower()
        self._any_host = settings.sandbox_public and host in WILDCARDS
        self._hosts = frozenset({host.strip("[]")}) if settings.sandbox_public else frozenset()
        self._host, self._port = host, settings.port

    def link(self) -> str:
        """The address to open, secret included: the listen address, or localhost when it listens everywhere."""
        host = "localhost" if self._host in WILDCARDS else self._host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self._port}{PREFIX}/?token={self.token}"

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._host_allowed(request.host):
            return _refused(request, 403, "This address is not one the sandbox answers to: open it as localhost.")
        origin = request.headers.get("Origin")
        if origin is not None and not _same_origin(origin, request.host):
            return _refused(request, 403, "Requests from other sites are refused.")
        if request.method == "GET" and "token" in request.query:
            return self._sign_in(request)
        session = self._session_of(request.cookies.get(self.cookie, ""))
        if session is None:
            return _refused(request, 401, REFUSED)
        request[SESSION] = session
        if request.method not in ("GET", "HEAD") and request.content_type != "application/json":
            return _refused(request, 415, "The sandbox's API takes application/json only.")
        return await handler(request)

    def _sign_in(self, request: web.Request) -> web.StreamResponse:
        """The printed link: a right secret becomes a new session's cookie, and the browser goes on to the same
        address without the secret in it (so it is not kept in history or sent on as a referrer)."""
        if not self._holds_secret(request.query["token"]):
            return _refused(request, 401, "That link's token is not this server's. " + REFUSED)
        clean = request.rel_url.with_query([(k, v) for k, v in request.query.items() if k != "token"])
        response = web.Response(status=303, headers={"Location": str(clean), "Cache-Control": "no-store",
                                                     "Referrer-Policy": "no-referrer"})
        session = secrets.token_urlsafe(16)
        response.set_cookie(self.cookie, f"{session}.{self._signature(session)}", path=PREFIX, httponly=True,
                            samesite="Strict", secure=request.secure)
        return response

    def _holds_secret(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode("utf-8", "replace"), self.token.encode())

    def _signature(self, session: str) -> str:
        return hmac.new(self.token.encode(), session.encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    def _session_of(self, cookie: str) -> str | None:
        """The session id a cookie carries, if this process's secret signed it."""
        session, _, signature = cookie.partition(".")
        if not session or not hmac.compare_digest(signature.encode("utf-8", "replace"),
                                                  self._signature(session).encode()):
            return None
        return session

    def _host_allowed(self, host: str) -> bool:
        if is_loopback_host(host) or self._any_host:
            return True
        try:
            return (urlsplit(f"//{host}").hostname or "") in self._hosts
        except ValueError:
            return False


def _same_origin(origin: str, host: str) -> bool:
    """Origin's host and port against the Host header (the scheme is left out: behind a TLS proxy the page
    is https while this server sees http)."""
    try:
        return urlsplit(origin).netloc.lower() == host.lower() != ""
    except ValueError:
        return False


def _refused(request: web.Request, status: int, reason: str) -> web.Response:
    """The page's usual JSON error for API calls, a short page for anything a browser opens."""
    if request.path.startswith(f"{PREFIX}/api/"):
        return web.json_response({"ok": False, "error": reason}, status=status)
    return web.Response(status=status, text=PAGE.format(html.escape(reason)), content_type="text/html",
                        headers={"Cache-Control": "no-store"})
