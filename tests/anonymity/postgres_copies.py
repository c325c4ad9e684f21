"""The copies of a PostgreSQL deployment, taken after each vote: the WAL written since the last one, read by
transaction (tests/anonymity/postgres_wal.py); a `pg_dump --data-only`; and the data directory's files after a
CHECKPOINT, read byte for byte (dead tuples, free space and WAL segments included), each tuple on its own too."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from tests.anonymity.linking import Ledger, changed
from tests.anonymity.postgres_wal import WalReader, parse_lsn
from tests.anonymity.voters import Secrets

HEAP_PAGE = 8192
WAL_ROUTE, DUMP_ROUTE, FILES_ROUTE = "PostgreSQL WAL", "pg_dump", "data directory"


@dataclass(frozen=True)
class Cluster:
    bin: Path
    data: Path
    port: int
    database: str

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"


def items(page: bytes) -> list[tuple[int, bytes]]:
    """(item number, bytes) of every line pointer with storage on a heap or index page, dead ones included."""
    lower, upper, special = (int.from_bytes(page[i:i + 2], "little") for i in (12, 14, 16))
    if not 24 <= lower <= upper <= special <= HEAP_PAGE:
        return []
    found = []
    for number, at in enumerate(range(24, lower, 4), start=1):
        pointer = int.from_bytes(page[at:at + 4], "little")
        offset, length = pointer & 0x7FFF, pointer >> 17
        if length and offset + length <= HEAP_PAGE:
            found.append((number, page[offset:offset + length]))
    return found


@dataclass
class _File:
    stamp: tuple[int, int, int]
    tokens: set[str]


def dump_tables(dump: str) -> dict[str, tuple[list[str], list[str]]]:
    """pg_dump's plain output as table -> (columns, data lines)."""
    tables: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] | None = None
    for line in dump.splitlines():
        if current is not None:
            if line == "\\.":
                current = None
            else:
                current.append(line)
        elif line.startswith("COPY ") and line.endswith(" FROM stdin;"):
            name, _, columns = line[5:-12].partition(" ")
            tables[name.rpartition(".")[2]] = ([c.strip().strip('"') for c in columns.strip("()").split(",")],
                                               current := [])
    return tables


@dataclass
class PostgresCopies:
    cluster: Cluster
    ledger: Ledger
    run_id: int
    wal: WalReader | None = None
    participation: dict[tuple[object, ...], object] | None = None
    files: dict[Path, _File] = field(default_factory=dict)

    @property
    def secrets(self) -> Secrets:
        return self.ledger.secrets

    async def _sql(self, *statements: str) -> list[object]:
        connection = await asyncpg.connect(self.cluster.dsn)
        try:
            return [await connection.fetchval(statement) for statement in statements]
        finally:
            await connection.close()

    async def take(self, vote: str) -> None:
        if self.wal is None:
            lsn, segment_size, timeline = await self._sql(
                "SELECT pg_current_wal_insert_lsn()::text", "SELECT setting FROM pg_settings WHERE name = "
                "'wal_segment_size'", "SELECT timeline_id FROM pg_control_checkpoint()")
            self.wal = WalReader(self.cluster.bin / "pg_waldump", self.cluster.data / "pg_wal", int(str(segment_size)),
                                 int(str(timeline)), parse_lsn(str(lsn)))
        await asyncio.to_thread(self._dump, vote)
        await asyncio.to_thread(self._read_wal, vote)
        await self._sql("CHECKPOINT")
        await asyncio.to_thread(self._read_files, vote)

    def _read_wal(self, vote: str) -> None:
        assert self.wal is not None
        for transaction in self.wal.transactions():
            tokens = self.secrets.tokens_in(transaction.data)
            people = self.secrets.people_in(transaction.data)
            self.ledger.see(WAL_ROUTE, transaction.name, vote, tokens, people)

    def _dump(self, vote: str) -> None:
        result = subprocess.run([str(self.cluster.bin / "pg_dump"), "--data-only", "-h", "127.0.0.1", "-p",
                                 str(self.cluster.port), "-U", "postgres", self.cluster.database],
                                capture_output=True, text=True, timeout=60, check=True)
        tables = dump_tables(result.stdout)
        for table, (_, lines) in tables.items():
            for line in lines:
                self.ledger.row(DUMP_ROUTE, f"a row of {table}", vote, self.secrets.tokens_in(line),
                                self.secrets.people_in(line))
        columns, lines = tables["participation"]
        participation: dict[tuple[object, ...], object] = {}
        for line in lines:
            row = dict(zip(columns, line.split("\t"), strict=True))
            if row["run_id"] == str(self.run_id):
                participation[(row["question_id"], row["platform"], row["user_id"])] = row.get("sealed", "\\N")
        people = None
        if self.participation is not None:
            people = {str(user) for _, _, user in changed(self.participation, participation)}
        self.participation = participation
        waiting: dict[str, set[int]] = {}
        for (question, _, _), sealed in participation.items():
            if sealed != "\\N":
                waiting.setdefault(question, set()).add(len(sealed))
        for question, sizes in waiting.items():
            if len(sizes) > 1:
                self.ledger.fact("sealed", DUMP_ROUTE, "the dump", vote,
                                 f"sealed answers to question {question} differ in length: {sorted(sizes)}")
        self.ledger.see(DUMP_ROUTE, "the dump", vote, self.secrets.tokens_in(result.stdout), people)

    def _read_files(self, vote: str) -> None:
        tokens: set[str] = set()
        for folder, _, names in os.walk(self.cluster.data):
            for name in names:
                path = Path(folder) / name
                try:
                    info = path.stat()
                except FileNotFoundError:  # a temporary file gone meanwhile
                    continue
                stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
                known = self.files.get(path)
                if known is None or known.stamp != stamp:
                    known = self.files[path] = _File(stamp, self._read_file(path, vote))
                tokens |= known.tokens
        self.ledger.see(FILES_ROUTE, "every file after CHECKPOINT", vote, tokens)

    def _read_file(self, path: Path, vote: str) -> set[str]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return set()
        tokens = self.secrets.tokens_in(data)
        relative = path.relative_to(self.cluster.data)
        if tokens and relative.parts[0] in ("base", "global") and name_is_relation(path.name):
            for start in range(0, len(data) - HEAP_PAGE + 1, HEAP_PAGE):
                for number, item in items(data[start:start + HEAP_PAGE]):
                    self.ledger.row(FILES_ROUTE, f"{relative} page {start // HEAP_PAGE} item {number}", vote,
                                    self.secrets.tokens_in(item), self.secrets.people_in(item))
        return tokens


def name_is_relation(name: str) -> bool:
    """A relation's main fork (`16390`, `16390.1`), not its free space or visibility map."""
    return name.replace(".", "").isdigit()
