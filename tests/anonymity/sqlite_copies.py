"""The copies of a SQLite deployment, taken after each vote: `earshot.db` and `earshot.db-wal` copied while the
engine is open, the WAL replayed commit by commit (tests/anonymity/sqlite_wal.py), each commit's database read
with Python's sqlite3 and compared with the one before, and each commit's raw frames searched."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.anonymity.linking import Ledger, changed
from tests.anonymity.sqlite_wal import Replay, rows
from tests.anonymity.voters import Secrets

COMMITS_ROUTE, FRAMES_ROUTE = "SQLite commits", "SQLite WAL frames"


@dataclass
class State:
    tokens: set[str]
    """Every token in any text value of any table."""
    participation: dict[tuple[object, ...], object]
    """(question id, platform, user id) -> sealed answer (None when there is none), for the pulse's run."""


@dataclass
class SqliteCopies:
    path: Path
    work: Path
    ledger: Ledger
    run_id: int
    replay: Replay = field(default_factory=Replay)
    previous: State | None = None
    commits: int = 0

    @property
    def secrets(self) -> Secrets:
        return self.ledger.secrets

    async def take(self, vote: str) -> None:
        database = self.path.read_bytes()  # the database first, then its WAL, as a copy taken live would
        wal_path = self.path.with_name(self.path.name + "-wal")
        wal = wal_path.read_bytes() if wal_path.exists() else b""
        for commit, image in self.replay.copy(database, wal):
            if commit is None:
                copy = "the database file (copied beside a new WAL)"
            else:
                self.commits += 1
                copy = f"commit #{self.commits} (WAL frame {commit.last_frame})"
            state = self._read(image, copy, vote)
            people = None
            if self.previous is not None:
                before, after = self.previous.participation, state.participation
                people = {str(key[2]) for key in changed(before, after)}
            self.ledger.see(COMMITS_ROUTE, copy, vote, state.tokens, people)
            if commit is not None:
                self.ledger.see(FRAMES_ROUTE, copy, vote, self.secrets.tokens_in(commit.raw), people)
            self.previous = state

    def _read(self, image: bytes, copy: str, vote: str) -> State:
        tokens: set[str] = set()
        participation: dict[tuple[object, ...], object] = {}
        for table, (columns, found) in rows(image, self.work / "state.db").items():
            for row in found:
                text = "\x00".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row)
                in_row = self.secrets.tokens_in(text)
                tokens |= in_row
                self.ledger.row(COMMITS_ROUTE, f"{copy}, a row of {table}", vote, in_row,
                                self.secrets.people_in(text) if in_row else set())
                if table == "participation":
                    values = dict(zip(columns, row, strict=True))
                    if values["run_id"] == self.run_id:
                        key = (values["question_id"], values["platform"], values["user_id"])
                        participation[key] = values.get("sealed")
        sizes: dict[object, set[int]] = {}
        for (question, _, _), sealed in participation.items():
            if sealed is not None:
                sizes.setdefault(question, set()).add(len(str(sealed)))
        for question, lengths in sizes.items():
            if len(lengths) > 1:
                self.ledger.fact("sealed", COMMITS_ROUTE, copy, vote,
                                 f"sealed answers to question {question} differ in length: {sorted(lengths)}")
        return State(tokens, participation)
