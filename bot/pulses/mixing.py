"""Mixing an anonymous run's answers, so where and when they were written links none of them to a person.

A batch of votes is stored in one transaction that writes both who answered (`participation`) and the
anonymous answers (`response`), one row after another in the order people answered (storage.batching). Left
like that, the way the rows are stored links each answer to its person at the granularity of a batch, which is
often a single vote:

- on PostgreSQL both rows carry the same transaction id (`xmin`), and both tables' physical order (`ctid`, the
  order `pg_dump` writes them in) follows the order of answering;
- on SQLite both tables are WITHOUT ROWID (no rowid to give the order away), but inside a b-tree page the
  cells are laid out one after another as they are inserted, so the byte offset of an answer in the table's
  (and its indexes') pages follows the order of answering, as does a participation's in its own.

`mix_answers` rewrites all the answers of an anonymous run in one statement per step: it copies them aside,
deletes them and inserts them again ORDER BY random(). Afterwards every answer of the run carries the mixing
transaction's `xmin` on PostgreSQL, and on both backends its place in the pages (heap and indexes) is a random
permutation. Values, comments, days and ids are kept as they were (nothing refers to an answer's position or
needs anything but its id, which is random already).

It runs (a) in `Pulses._refresh_later`, in the write transaction that follows votes by one coalescing interval
(`outbox.update_interval`, a few seconds), once the votes pause (no further refresh pending) and during a long
burst every `MIX_EVERY` (30 s) from its first refresh, and (b) when a run closes.

What remains, honestly:

- The window: answers written since the last mixing still carry their vote's `xmin` and sit in answer order at
  the end of the table until the next mixing, that is up to one coalescing interval after the vote, or up to
  `MIX_EVERY` while a burst goes on (when group commits hold many votes each); longer if the refresh fails or
  the process stops first: then until the next vote's refresh or the close.
- Below the SQL level: on PostgreSQL the old row versions the mixing deleted stay in the heap and index pages,
  with their original `xmin` and place, until vacuum (or page pruning) removes them; someone who can read the
  data files, or a superuser with pageinspect, can link answers until then. Both write-ahead logs (`pg_wal`;
  SQLite's `-wal` file until later checkpoints overwrite it) hold every vote's commit in order. What `pg_dump`,
  SQL and a copy of the SQLite database file show is the mixed rows only (on SQLite the mixing deletes with
  `secure_delete`, so no deleted answer's bytes stay behind at its old place in a page).
- On PostgreSQL a vote batch that checked the run was open just before it closed may commit after the close
  has mixed; that answer is not mixed again.

Cost: the whole run is rewritten each time (every answer deleted and inserted again, in the table and its
indexes), under the SQLite write lock that votes queue on: about 35 ms for a run of 5,000 answers on SQLite on
an idle machine, whether the table holds 10,000 answers or 310,000 (answer ids start with their run,
bot.pulses.ballots.answer_id, so a run's answers share a few pages; with the former random ids the same mixing
took about 165 ms in the larger table). It grows with the run, about 7 µs per answer: a run of 50,000 answers
would hold the lock for a third of a second every coalescing interval while votes come in, which is a size for
PostgreSQL, where votes do not wait for it (70-100 ms for 5,000 answers). On PostgreSQL each mixing also
leaves the run's size in dead rows for autovacuum.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

COLUMNS = "id, run_id, question_id, respondent_id, value, comment, answered_on"

# The run's anonymous answers, and only if the run's pulse is anonymous: a named pulse's answers are left alone.
ANSWERS = ("run_id = :run_id AND respondent_id IS NULL AND EXISTS (SELECT 1 FROM pulse_run JOIN pulse ON "
           "pulse.id = pulse_run.pulse_id WHERE pulse_run.id = :run_id AND pulse.anonymous)")

# PostgreSQL: one statement, so exactly the rows it deletes come back (a vote committed meanwhile is untouched
# and waits for the next mixing). Its rows reach the INSERT only after the sort has read them all.
POSTGRES = text(f"WITH gone AS (DELETE FROM response WHERE {ANSWERS} RETURNING {COLUMNS}) "
                f"INSERT INTO response ({COLUMNS}) SELECT {COLUMNS} FROM gone ORDER BY random()")

# SQLite has no DELETE in a WITH, so the rows go to a temporary table of the connection first (SQLite takes one
# writer at a time, and votes queue for it, so nothing is written between the steps).
SQLITE_ERASE = text("PRAGMA secure_delete = ON")  # deleted cells are zeroed (Debian's build does so already)
SQLITE_ASIDE = text("CREATE TEMP TABLE IF NOT EXISTS earshot_mixing (id TEXT, run_id INTEGER, question_id INTEGER, "
                    "respondent_id TEXT, value TEXT, comment TEXT, answered_on DATE)")
SQLITE_COPY = text(f"INSERT INTO temp.earshot_mixing ({COLUMNS}) SELECT {COLUMNS} FROM main.response WHERE {ANSWERS}")
SQLITE_DELETE = text("DELETE FROM main.response WHERE id IN (SELECT id FROM temp.earshot_mixing)")
SQLITE_INSERT = text(f"INSERT INTO main.response ({COLUMNS}) SELECT {COLUMNS} FROM temp.earshot_mixing "
                     "ORDER BY random()")
SQLITE_CLEAR = text("DELETE FROM temp.earshot_mixing")


async def mix_answers(session: AsyncSession, run_id: int) -> int:
    """Rewrite the answers of anonymous run `run_id` in random order, in the session's transaction (the caller
    commits). Returns how many answers were rewritten: 0 for a named pulse's run, which is left untouched."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        return (await connection.execute(POSTGRES, {"run_id": run_id})).rowcount
    await connection.execute(SQLITE_ERASE)
    await connection.execute(SQLITE_ASIDE)
    if not (await connection.execute(SQLITE_COPY, {"run_id": run_id})).rowcount:
        return 0
    await connection.execute(SQLITE_DELETE)
    mixed = (await connection.execute(SQLITE_INSERT)).rowcount
    await connection.execute(SQLITE_CLEAR)
    return mixed
