"""Health and metrics answers, shared by the web app and the worker's own small listener
(`EARSHOT_METRICS_PORT`), so a worker process can be probed and scraped too."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import text

from bot.outbox import measure_outbox
from storage.columns import utcnow

if TYPE_CHECKING:
    from adapters.runtime import Runtime

log = logging.getLogger(__name__)


async def health(runtime: Runtime) -> web.Response:
    """Up or not, for load balancers and orchestrators; it answers anyone, so it names no platform, version or
    configuration (only this process's role and whether its scheduler leads)."""
    try:
        async with asyncio.timeout(2), runtime.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # the database is away: say so, briefly, without a stack trace
        log.warning("health check: database unavailable: %s", error)
        return web.json_response({"status": "unavailable", "database": "down"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "role": runtime.role,
                              "scheduler_leader": runtime.leadership.leading})


async def scrape(runtime: Runtime) -> web.Response:
    try:  # the outbox is shared by every process: any of them can report its depth and age
        async with asyncio.timeout(2), runtime.db.session() as session:
            await measure_outbox(session, runtime.metrics, utcnow())
    except Exception as error:  # the database is away: the scrape still shows every counter
        log.warning("metrics: could not measure the outbox: %s", error)
    return web.Response(body=runtime.metrics.render(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def serve_probes(runtime: Runtime, host: str, port: int) -> web.AppRunner:
    """GET /healthz and /metrics on their own port (the worker role serves nothing else)."""
    app = web.Application()
    app.router.add_get("/healthz", lambda _request: health(runtime))
    app.router.add_get("/metrics", lambda _request: scrape(runtime))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("worker probes on http://%s:%d (/healthz, /metrics)", host, port)
    return runner
