"""The one aiohttp application: health, metrics, and each configured platform's endpoints."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from time import perf_counter

from aiohttp import web

from adapters.ingest import IngestRoute
from adapters.probes import health, scrape
from adapters.runtime import Runtime
from adapters.sandbox.routes import bad_payloads
from storage.failures import refused_data, unavailable

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STORAGE_RETRY_AFTER = "5"
ACK_PREFIXES = (("/slack/", "slack"), ("/api/messages", "teams"), ("/sandbox/", "sandbox"),
                ("/api/feedback", "ingest"), ("/api/sources/", "sources"))
"""Inbound request paths whose handling time is the acknowledgement latency of that platform."""


@web.middleware
async def storage_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The database is restarting or unreachable: a short 503 with Retry-After, not a 500 and a stack trace.
    Nothing was committed, so the caller's retry is safe. Data the database refused (NUL on PostgreSQL, a value
    too long) is the request's fault and would fail on every retry: a 400, never a 503."""
    try:
        return await handler(request)
    except Exception as error:
        if unavailable(error):
            log.warning("%s %s: the database is unavailable: %s", request.method, request.path, _first_line(error))
            return web.json_response({"error": "storage is unavailable for a moment; nothing was accepted, please "
                                      "retry"}, status=503, headers={"Retry-After": STORAGE_RETRY_AFTER})
        if refused_data(error):
            log.warning("%s %s: the database refused the request's data: %s", request.method, request.path,
                        _first_line(error))
            return web.json_response({"error": "the request holds data that can't be stored; nothing was "
                                      "accepted"}, status=400)
        raise


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


@web.middleware
async def acknowledgement_time(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Observe how long inbound POSTs (platform events, ingest) take to answer, per platform."""
    platform = next((name for prefix, name in ACK_PREFIXES if request.path.startswith(prefix)), None)
    if platform is None or request.method != "POST" or request.match_info.route.resource is None:
        return await handler(request)  # only served routes: a stranger's POST must not name unserved platforms
    started = perf_counter()
    try:
        return await handler(request)
    finally:
        request.app[RUNTIME].metrics.ack_seconds.labels(platform).observe(perf_counter() - started)


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(middlewares=[acknowledgement_time, storage_unavailable, bad_payloads],
                          client_max_size=runtime.settings.ingest_max_bytes + 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    IngestRoute(runtime.settings, runtime.features.stations).mount(app)
    runtime.sources.mount(app)
    for platform in runtime.platforms:
        platform.mount(app)
    if runtime.workspace is not None:
        app.router.add_get("/", to_sandbox)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    await runtime.start()
    yield
    await runtime.stop()


async def healthz(request: web.Request) -> web.Response:
    return await health(request.app[RUNTIME])


async def metrics(request: web.Request) -> web.Response:
    return await scrape(request.app[RUNTIME])


async def to_sandbox(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/sandbox")
