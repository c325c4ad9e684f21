"""The one aiohttp application: health, metrics, and each configured platform's endpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import text

from adapters.ingest import IngestRoute
from adapters.runtime import Runtime
from adapters.sandbox.routes import bad_payloads

log = logging.getLogger(__name__)

RUNTIME = web.AppKey("runtime", Runtime)


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(middlewares=[bad_payloads], client_max_size=runtime.settings.ingest_max_bytes + 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    IngestRoute(runtime.settings, runtime.features.stations).mount(app)
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
    runtime = request.app[RUNTIME]
    try:
        async with asyncio.timeout(2), runtime.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # the database is away: say so, briefly, without a stack trace
        log.warning("health check: database unavailable: %s", error)
        return web.json_response({"status": "unavailable", "database": "down"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "platforms": sorted(runtime.adapters)})


async def to_sandbox(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/sandbox")


async def metrics(request: web.Request) -> web.Response:
    body = request.app[RUNTIME].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
