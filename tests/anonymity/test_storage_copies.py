"""Every copy of the storage, taken after every single vote of an anonymous pulse, ties no answer to fewer than
the minimum: SQLite's WAL replayed commit by commit (each commit's database and its raw frames), PostgreSQL's
WAL by transaction, a pg_dump, and the data directory's files after a checkpoint."""

from __future__ import annotations

from tests.anonymity.linking import report
from tests.anonymity.postgres_copies import DUMP_ROUTE, FILES_ROUTE, WAL_ROUTE
from tests.anonymity.scenario import Run
from tests.anonymity.sqlite_copies import COMMITS_ROUTE, FRAMES_ROUTE


def assert_unlinked(run: Run, *routes: str) -> None:
    links = run.ledger.found(*routes)
    assert not links, report(links)
    published = {token for token, answer in run.secrets.tokens.items() if answer.question_id not in run.ledger.sparse}
    for route in routes:  # a route that never saw the published answers could not have seen a link either
        missing = published - run.ledger.seen.get(route, set())
        assert not missing, f"{route} never showed {len(missing)} of the published answers: it is blind"


def test_sqlite_wal_replayed_commit_by_commit(sqlite_run: Run) -> None:
    assert_unlinked(sqlite_run, COMMITS_ROUTE, FRAMES_ROUTE)


def test_postgres_wal_by_transaction(postgres_run: Run) -> None:
    assert_unlinked(postgres_run, WAL_ROUTE)


def test_pg_dump_after_every_vote(postgres_run: Run) -> None:
    assert_unlinked(postgres_run, DUMP_ROUTE)


def test_postgres_data_directory_after_every_vote(postgres_run: Run) -> None:
    assert_unlinked(postgres_run, FILES_ROUTE)
