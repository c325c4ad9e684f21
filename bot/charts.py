"""Stored chart images. Cards point at them as `Image(url="chart:<id>")`; each adapter resolves that its own
way (Slack uploads the file, Teams inlines it, the sandbox serves it)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.engine import Database
from storage.tables import Chart

SCHEME = "chart:"


async def save_chart(session: AsyncSession, png: bytes) -> str:
    """Store a PNG in the caller's transaction; returns the `chart:<id>` URL for an Image block."""
    chart = Chart(png=png)
    session.add(chart)
    await session.flush()
    return f"{SCHEME}{chart.id}"


def chart_id(url: str) -> str | None:
    """The id inside a `chart:<id>` URL, or None for an ordinary URL."""
    return url[len(SCHEME):] if url.startswith(SCHEME) else None


async def load_chart(db: Database, url_or_id: str) -> bytes | None:
    async with db.session() as session:
        chart = await session.get(Chart, chart_id(url_or_id) or url_or_id)
        return chart.png if chart else None
