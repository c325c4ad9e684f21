"""SQLite's write-ahead log, read as someone holding a copy of `earshot.db` and `earshot.db-wal` would read it:
frame by frame, commit by commit, giving the database as it was after each commit.

The format (https://www.sqlite.org/fileformat.html#the_write_ahead_log): a 32-byte header (magic, version, page
size, checkpoint sequence, two salts, a checksum), then frames of a 24-byte header (page number, database size
in pages after a commit or 0, the header's salts, a running checksum) and one page. Frames count only while
their salts match the header's and the running checksum holds; a commit is a frame with a non-zero size.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADER = 32
FRAME_HEADER = 24
MAGIC = {0x377F0682: "<", 0x377F0683: ">"}  # the checksum's byte order


@dataclass(frozen=True)
class Commit:
    salts: tuple[int, int]
    """Which WAL (it is restarted with new salts after a full checkpoint)."""
    last_frame: int
    """1-based number of the commit frame in its WAL."""
    pages: int
    """The database's size in pages after this commit."""
    frames: list[tuple[int, bytes]]
    """(page number, page) of every frame of this commit, in order."""
    raw: bytes
    """The commit's frames as they lie in the file, headers included."""


@dataclass(frozen=True)
class Wal:
    page_size: int
    salts: tuple[int, int]
    commits: list[Commit]


def _checksum(data: bytes, order: str, s0: int, s1: int) -> tuple[int, int]:
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def read_wal(data: bytes) -> Wal | None:
    """The committed frames of a WAL file's bytes; None for a missing, empty or not yet started WAL."""
    if len(data) < HEADER:
        return None
    magic, version, page_size, _sequence, salt1, salt2, c0, c1 = struct.unpack(">8I", data[:HEADER])
    if magic not in MAGIC or version != 3007000:
        return None
    order = MAGIC[magic]
    if _checksum(data[:24], order, 0, 0) != (c0, c1):
        return None
    s0, s1 = c0, c1
    commits: list[Commit] = []
    pending: list[tuple[int, bytes]] = []
    start = offset = HEADER
    number = 0
    while offset + FRAME_HEADER + page_size <= len(data):
        page, size, f_salt1, f_salt2, f0, f1 = struct.unpack(">6I", data[offset:offset + FRAME_HEADER])
        content = data[offset + FRAME_HEADER:offset + FRAME_HEADER + page_size]
        if (f_salt1, f_salt2) != (salt1, salt2):
            break
        s0, s1 = _checksum(data[offset:offset + 8] + content, order, s0, s1)
        if (s0, s1) != (f0, f1):
            break
        number += 1
        pending.append((page, content))
        offset += FRAME_HEADER + page_size
        if size:
            commits.append(Commit((salt1, salt2), number, size, pending, data[start:offset]))
            pending, start = [], offset
    return Wal(page_size, (salt1, salt2), commits)


class Replay:
    """The database after each commit, from successive copies of the database file and its WAL.

    Within one WAL the image is built from the frames alone, on top of the previous commit's image, since the
    database file may already hold pages a checkpoint copied from later frames. When the WAL was restarted (new
    salts) between two copies, the database file holds everything before the restart: it becomes the image."""

    def __init__(self) -> None:
        self.image: bytearray | None = None
        self.salts: tuple[int, int] | None = None
        self.done = 0  # frames of the current WAL already replayed

    def copy(self, database: bytes, wal: bytes) -> Iterator[tuple[Commit | None, bytes]]:
        """The states this copy adds: (None, the database file) after a restart or for the first copy, then
        (commit, the database after it) for each commit not replayed yet."""
        log = read_wal(wal)
        salts = log.salts if log else None
        if self.image is None or salts != self.salts:
            self.image, self.salts, self.done = bytearray(database), salts, 0
            yield None, _readable(self.image)
        if log is None:
            return
        for commit in log.commits:
            if commit.last_frame <= self.done:
                continue
            for page, content in commit.frames:
                start = (page - 1) * log.page_size
                if len(self.image) < start + log.page_size:
                    self.image.extend(bytes(start + log.page_size - len(self.image)))
                self.image[start:start + log.page_size] = content
            del self.image[commit.pages * log.page_size:]
            self.done = commit.last_frame
            yield commit, _readable(self.image)


def _readable(image: bytearray) -> bytes:
    """The image marked as a rollback-journal database (header bytes 18 and 19), so it opens without a WAL."""
    data = bytearray(image)
    if len(data) >= 100:
        data[18:20] = b"\x01\x01"
    return bytes(data)


def rows(image: bytes, path: Path) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """Every table's columns and rows in a database image (written to `path` and opened read-only)."""
    path.write_bytes(image)
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        found = {}
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            found[table] = ([d[0] for d in cursor.description], cursor.fetchall())
        return found
    finally:
        connection.close()
