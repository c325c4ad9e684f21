"""Tombstones of erased customers' feedback: keyed digests of each erased item's source and id and of each erased
e-mail address (storage.tables.ErasedFeedback), so the ingest refuses what a tool re-sends or a pull reads again."""

from __future__ import annotations

import contextlib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from email.utils import parseaddr

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.secrets import keyed_digest
from storage.tables import ErasedFeedback

try:  # IDNA 2008 (UTS 46, non-transitional: ß stays ß); the standard library's IDNA 2003 otherwise
    import idna
except ImportError:  # pragma: no cover - installed with aiohttp's yarl
    idna = None

PURPOSE = "erased customers"
"""The purpose tombstone digests are keyed for (storage.secrets.keyed_digest)."""
ERASED = "erased at the customer's request"
"""Why the ingest refuses an item matching a tombstone."""
DIGESTS_PER_SELECT = 500


def normal_email(text: str) -> str | None:
    """The address in `text` (bare, or `Name <a@b>`) as erasures compare it: Unicode NFC, lower-cased (not
    case-folded: `ß` and `ss` are different mailboxes), the domain in its ASCII (IDNA) form. None if none."""
    address = parseaddr(unicodedata.normalize("NFC", text.strip()))[1] or text.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        return None
    domain = domain.lower().rstrip(".")
    if domain.isascii():  # already its own ASCII form; IDNA encoding costs a tenth of a millisecond
        return f"{local.lower()}@{domain}"
    with contextlib.suppress(UnicodeError, ValueError):  # not a valid IDN: compared as given
        domain = (idna.encode(domain, uts46=True, transitional=False) if idna is not None
                  else domain.encode("idna")).decode("ascii")
    return f"{local.lower()}@{domain}"


def email_digest(keys: Sequence[str], email: str) -> str | None:
    """The tombstone digest of an e-mail address (normalised), or None when it is none."""
    normal = normal_email(email)
    return keyed_digest(keys, PURPOSE, json.dumps(["email", normal])) if normal is not None else None


def item_digest(keys: Sequence[str], source: str, external_id: str) -> str:
    return keyed_digest(keys, PURPOSE, json.dumps(["item", source, external_id]))


async def bury(session: AsyncSession, digests: Iterable[str]) -> None:
    """Add tombstones in the caller's transaction (already there: kept)."""
    wanted = set(digests)
    known = await buried(session, wanted)
    session.add_all(ErasedFeedback(digest=digest) for digest in sorted(wanted - known))


async def buried(session: AsyncSession, digests: Iterable[str]) -> set[str]:
    """Which of `digests` are tombstones (one indexed select per 500)."""
    wanted = sorted(set(digests))
    found: set[str] = set()
    for start in range(0, len(wanted), DIGESTS_PER_SELECT):
        found.update(await session.exec(select(ErasedFeedback.digest).where(
            col(ErasedFeedback.digest).in_(wanted[start:start + DIGESTS_PER_SELECT]))))
    return found
