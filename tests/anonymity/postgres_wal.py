"""PostgreSQL's WAL, read as someone holding the files in pg_wal would read it: pg_waldump lists the records
(LSN, total length, transaction id), and each record's bytes are read back from the segment files, so what
each transaction wrote can be searched.

An LSN counts the bytes of the WAL stream, page headers included: record bytes sit in segment `lsn // size` at
offset `lsn % size`, with a page header (24 bytes, 40 at a segment's start) at every 8 KB page boundary that a
long record continues across.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

WAL_PAGE = 8192
SHORT_HEADER = 24  # MAXALIGN(sizeof(XLogPageHeaderData))
LONG_HEADER = 40  # MAXALIGN(sizeof(XLogLongPageHeaderData)), on a segment's first page
END_OF_WAL = ("invalid record length", "could not find a valid record", "incorrect prev-link", "invalid magic number",
              "contrecord")
"""How pg_waldump says it reached the end of what was written (it reads until the WAL stops making sense)."""
LINE = re.compile(r"rmgr: (?P<rmgr>\S+)\s+len \(rec/tot\):\s*\d+/\s*(?P<total>\d+), tx:\s*(?P<xid>\d+), "
                  r"lsn: (?P<hi>[0-9A-F]+)/(?P<lo>[0-9A-F]+), prev [0-9A-F]+/[0-9A-F]+, desc: (?P<desc>.*)")


def lsn_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return int(high, 16) << 32 | int(low, 16)


@dataclass(frozen=True)
class Record:
    lsn: int
    length: int
    xid: int
    what: str
    """pg_waldump's resource manager and description."""


@dataclass(frozen=True)
class Transaction:
    """Every record of one transaction id (or one record without a transaction), with the bytes they wrote."""

    xid: int
    records: list[Record]
    data: bytes

    @property
    def name(self) -> str:
        span = f"LSN {lsn_text(self.records[0].lsn)}–{lsn_text(self.records[-1].lsn)}"
        if self.xid:
            return f"transaction {self.xid} ({len(self.records)} records, {span})"
        return f"record {self.records[0].what[:60]!r} ({span})"


class WalReader:
    """Reads the WAL written since `start`, a little more each call."""

    def __init__(self, waldump: Path, wal_dir: Path, segment_size: int, timeline: int, start: int) -> None:
        self.waldump, self.wal_dir = waldump, wal_dir
        self.segment_size, self.timeline = segment_size, timeline
        self.position = start  # where the next pg_waldump begins
        self.last = start - 1  # records at or before this LSN were read already

    def _segment(self, number: int) -> Path:
        per_id = 0x1_0000_0000 // self.segment_size
        return self.wal_dir / f"{self.timeline:08X}{number // per_id:08X}{number % per_id:08X}"

    def record_bytes(self, record: Record, segments: dict[int, bytes]) -> bytes:
        """The record's bytes from the segment files, without the page headers it continues across."""
        out = bytearray()
        position = record.lsn
        while len(out) < record.length:
            number, offset = divmod(position, self.segment_size)
            if offset % WAL_PAGE == 0:
                position += LONG_HEADER if offset == 0 else SHORT_HEADER
                continue
            if number not in segments:
                segments[number] = self._segment(number).read_bytes()
            take = min(record.length - len(out), WAL_PAGE - offset % WAL_PAGE)
            out += segments[number][offset:offset + take]
            position += take
        # the record's own header (xl_tot_len, xl_xid) proves the bytes are the record's, not a recycled segment's
        if (int.from_bytes(out[:4], "little"), int.from_bytes(out[4:8], "little")) != (record.length, record.xid):
            raise RuntimeError(f"the bytes at LSN {lsn_text(record.lsn)} are not the record pg_waldump read there")
        return bytes(out)

    def transactions(self) -> list[Transaction]:
        """The records flushed since the last call, grouped by transaction id in the order they ended."""
        result = subprocess.run([str(self.waldump), "-p", str(self.wal_dir), "-s", lsn_text(self.position)],
                                capture_output=True, text=True, timeout=60)
        records = []
        for line in result.stdout.splitlines():
            match = LINE.match(line)
            if match is None:
                continue
            lsn = int(match["hi"], 16) << 32 | int(match["lo"], 16)
            if lsn > self.last:
                records.append(Record(lsn, int(match["total"]), int(match["xid"]),
                                      f"{match['rmgr']} {match['desc']}"))
        if result.returncode and not any(end in result.stderr for end in END_OF_WAL):
            raise RuntimeError(f"pg_waldump from {lsn_text(self.position)} failed: {result.stderr.strip()}")
        segments: dict[int, bytes] = {}
        grouped: dict[int, list[tuple[Record, bytes]]] = defaultdict(list)
        units: list[tuple[int, list[tuple[Record, bytes]]]] = []
        for record in records:
            pair = (record, self.record_bytes(record, segments))
            if record.xid:
                grouped[record.xid].append(pair)
            else:
                units.append((record.lsn, [pair]))
        units += [(pairs[-1][0].lsn, pairs) for pairs in grouped.values()]
        if records:
            self.position = self.last = records[-1].lsn
        return [Transaction(pairs[0][0].xid, [r for r, _ in pairs], b"".join(d for _, d in pairs))
                for _, pairs in sorted(units, key=lambda unit: unit[0])]
