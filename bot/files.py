"""Files the core made for someone. Cards point at them as `File(url="file:<id>")`; each adapter delivers it
its own way (Slack uploads it into the conversation, the sandbox offers a download, Teams says where to get it)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.engine import Database
from storage.tables import StoredFile

SCHEME = "file:"


async def save_file(session: AsyncSession, name: str, mime: str, data: bytes) -> str:
    """Store a file in the caller's transaction; returns the `file:<id>` URL for a File block."""
    stored = StoredFile(name=name, mime=mime, data=data)
    session.add(stored)
    await session.flush()
    return f"{SCHEME}{stored.id}"


def file_id(url: str) -> str | None:
    """The id inside a `file:<id>` URL, or None for anything else."""
    return url[len(SCHEME):] if url.startswith(SCHEME) else None


async def load_file(db: Database, url_or_id: str) -> StoredFile | None:
    async with db.session() as session:
        return await session.get(StoredFile, file_id(url_or_id) or url_or_id)
