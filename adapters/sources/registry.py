"""Registered sources as stored (storage/tables/sources.py) and as a kind sees them: adding and removing them,
their configs for the route, and their hourly tallies."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from adapters.sources.base import Kind, SourceConfig
from bot.feedback.sources import COUNTS, PURPOSE, URL_TOKEN
from bot.governance.audit import record
from storage.engine import Database
from storage.secrets import SecretBox, SecretKeyError
from storage.tables import FeedbackSource, SourceTally

log = logging.getLogger(__name__)

NAME = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?")
"""A source's name: what its URL holds and what `source:` filters match. ASCII only, so no two names look alike."""
ERROR_LENGTH = 500


class SourceExists(Exception):
    """A source of that name is already registered."""


def secret_box(keys: Sequence[str]) -> SecretBox:
    return SecretBox(keys, purpose=PURPOSE)


def seal_secrets(box: SecretBox, secrets: Mapping[str, str]) -> str:
    return box.seal(json.dumps(dict(secrets), ensure_ascii=False))


def source_config(row: FeedbackSource, box: SecretBox) -> SourceConfig:
    return SourceConfig(name=row.name, kind=row.kind, secrets=json.loads(box.open(row.secrets)),
                        options={str(k): str(v) for k, v in (row.options or {}).items()})


def name_problem(name: str) -> str | None:
    """Why `name` can't be a source's name, or None."""
    if NAME.fullmatch(name):
        return None
    hint = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")[:64]
    suggestion = f" (e.g. {hint})" if hint and NAME.fullmatch(hint) else ""
    return ("a source name is 1 to 64 lowercase letters a–z, digits, '-' or '_', starting and ending with a letter "
            f"or digit{suggestion}")


def secrets_problem(secret_values: Mapping[str, str]) -> str | None:
    """Why these secrets can't be stored: a blank one would key the HMAC with "", which anyone can compute."""
    blank = [name for name, value in secret_values.items() if not value.strip()]
    if not blank:
        return None
    flags = ", ".join("--" + name.replace("_", "-") for name in blank)
    return f"{flags} is empty: give the value the tool shows (a blank secret would let anyone sign for this source)"


async def add_source(db: Database, box: SecretBox, kind: Kind, name: str, secret_values: Mapping[str, str],
                     options: Mapping[str, str], created_by: str | None = None, *,
                     audit_keys: Sequence[str] | None = None) -> str | None:
    """Store a source; the token of its secret URL when its kind can only be given a URL. Raises ValueError for a
    bad name or a blank secret, SourceExists for a taken name. With `audit_keys` (a source someone adds: `earshot
    sources add`) the addition is recorded in the audit log in the same transaction, as `created_by`'s, with its
    kind (never a secret or the token)."""
    if problem := name_problem(name) or secrets_problem(secret_values):
        raise ValueError(problem)
    sealed = dict(secret_values)
    token = secrets.token_urlsafe(32) if kind.secret_url else None
    if token is not None:
        sealed[URL_TOKEN] = token
    async with db.write() as session:
        if await get_source(session, name) is not None:
            raise SourceExists(name)
        session.add(FeedbackSource(name=name, kind=kind.name, secrets=seal_secrets(box, sealed),
                                   options=dict(options), created_by=created_by))
        try:  # the row is flushed by the audit entry's insert or by the commit
            if audit_keys is not None:
                await record(session, audit_keys, actor=created_by or "system", action="source.added",
                             subject=f"source:{name}", details={"kind": kind.name})
            await session.commit()
        except IntegrityError:  # added by someone else between the check and the commit
            raise SourceExists(name) from None
    return token


async def get_source(session: AsyncSession, name: str) -> FeedbackSource | None:
    return (await session.exec(select(FeedbackSource).where(FeedbackSource.name == name))).first()


async def remove_source(db: Database, name: str, *, audit_keys: Sequence[str] | None = None,
                        removed_by: str = "system") -> bool:
    """Forget a source and its tallies (the items it delivered stay). False when there was none. With `audit_keys`
    (`earshot sources remove`) the removal is recorded in the audit log in the same transaction, as `removed_by`'s."""
    async with db.write() as session:
        row = await get_source(session, name)
        if row is None:
            return False
        await session.exec(delete(SourceTally).where(col(SourceTally.source_id) == row.id))  # type: ignore[call-overload]
        await session.delete(row)
        if audit_keys is not None:
            await record(session, audit_keys, actor=removed_by, action="source.removed", subject=f"source:{name}",
                         details={"kind": row.kind})
        await session.commit()
    return True


@dataclass(frozen=True)
class Registered:
    """A source as the route needs it: its row id (for tallies), its config and its URL token, if any."""

    id: int
    config: SourceConfig
    token: str | None


async def load_registered(db: Database, box: SecretBox) -> dict[str, Registered]:
    """Every source whose secrets open with the configured keys, by name (one that doesn't is left out, so its URL
    answers as an unknown one does, and logged)."""
    async with db.session() as session:
        rows = list(await session.exec(select(FeedbackSource)))
    found = {}
    for row in rows:
        try:
            config = source_config(row, box)
        except (SecretKeyError, ValueError):
            log.warning("source %s: its secrets don't open with EARSHOT_SECRET_KEY; its URL is refused until it "
                        "is added again", row.name)
            continue
        assert row.id is not None
        found[row.name] = Registered(row.id, config, config.secrets.get(URL_TOKEN))
    return found


class Tallies:
    """Counts, last delivery and last error per source, kept in memory and written once a second by `flush`: a
    flood of refused requests costs a dictionary update each, not a database write."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, datetime], Counter[str]] = {}
        self._received: dict[int, datetime] = {}
        self._errors: dict[int, tuple[str, datetime]] = {}

    def count(self, source_id: int, at: datetime, **counts: int) -> None:
        hour = at.replace(minute=0, second=0, microsecond=0)
        self._counts.setdefault((source_id, hour), Counter()).update(
            {name: n for name, n in counts.items() if n})

    def received(self, source_id: int, at: datetime) -> None:
        self._received[source_id] = at

    def failed(self, source_id: int, at: datetime, message: str) -> None:
        self._errors[source_id] = (message[:ERROR_LENGTH], at)

    def __bool__(self) -> bool:
        return bool(self._counts or self._received or self._errors)

    async def flush(self, db: Database) -> None:
        """Write what was counted since the last flush (dropped, and logged, if the database can't take it)."""
        counts, received, errors = self._counts, self._received, self._errors
        self._counts, self._received, self._errors = {}, {}, {}
        if not (counts or received or errors):
            return
        try:
            async with db.write() as session:
                await write_tallies(session, counts, received, errors)
                await session.commit()
        except Exception as error:  # an outage or a source removed meanwhile: these counts are lost, not the items
            log.warning("source tallies not written: %s", str(error).splitlines()[0] if str(error) else error)


async def write_tallies(session: AsyncSession, counts: Mapping[tuple[int, datetime], Counter[str]],
                        received: Mapping[int, datetime], errors: Mapping[int, tuple[str, datetime]]) -> None:
    """Add counts to each source's hour and set its last delivery and last error, for sources still registered."""
    ids = {source_id for source_id, _ in counts} | set(received) | set(errors)
    existing = set(await session.exec(select(FeedbackSource.id).where(col(FeedbackSource.id).in_(ids))))
    rows = [{"source_id": source_id, "hour": hour, **{name: counter.get(name, 0) for name in COUNTS}}
            for (source_id, hour), counter in counts.items() if source_id in existing]
    if rows:
        dialect = session.bind.dialect.name if session.bind else "sqlite"
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(SourceTally)
        table = SourceTally.__table__  # type: ignore[attr-defined]
        statement = insert.on_conflict_do_update(
            index_elements=["source_id", "hour"],
            set_={name: table.c[name] + insert.excluded[name] for name in COUNTS})
        await (await session.connection()).execute(statement, rows)
    for source_id in existing:
        values: dict[str, object] = {}
        if source_id in received:
            values["last_received_at"] = received[source_id]
        if source_id in errors:
            values["last_error"], values["last_error_at"] = errors[source_id]
        if values:
            await session.exec(update(FeedbackSource).where(  # type: ignore[call-overload]
                col(FeedbackSource.id) == source_id).values(**values))
