"""`earshot roles grant | revoke | list` through the CLI's main(), on a fresh SQLite database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.cli import main


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """main() configures the root logger for a process; put back pytest's for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, standard output, and the errors on standard error (not the migrations' log lines)."""
    code = main(["roles", *argv])
    out, err = capsys.readouterr()
    return code, out.strip(), "\n".join(line for line in err.splitlines() if line.startswith("earshot:"))


def test_roles_are_granted_listed_and_revoked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'earshot.db'}")
    monkeypatch.delenv("EARSHOT_ADMINS", raising=False)
    assert run(capsys, "list") == (0, "no roles granted yet", "")
    assert run(capsys, "grant", "slack:U024BE7LH", "manager") == (0, "manager granted for slack:U024BE7LH", "")
    assert run(capsys, "grant", "slack:U024BE7LH", "manager") == (0, "nothing to do: already granted", "")
    assert run(capsys, "grant", "teams:29:1a2b", "hr") == (0, "hr granted for teams:29:1a2b", "")
    assert run(capsys, "list") == (0, "slack:U024BE7LH\tmanager\t(granted by cli)\nteams:29:1a2b\thr\t(granted by cli)",
                                   "")
    assert run(capsys, "revoke", "slack:U024BE7LH", "manager") == (0, "manager revoked for slack:U024BE7LH", "")
    assert run(capsys, "revoke", "slack:U024BE7LH", "manager") == (0, "nothing to do: already revoked", "")
    assert run(capsys, "list") == (0, "teams:29:1a2b\thr\t(granted by cli)", "")


def test_a_person_without_a_platform_is_refused_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'earshot.db'}")
    assert run(capsys, "grant", "U024BE7LH", "manager") == (
        2, "", "earshot: give the person as platform:user_id with platform one of slack, teams, sandbox, "
               "e.g. slack:U024BE7LH")
    assert run(capsys, "grant", "slakc:U1", "manager") == (
        2, "", "earshot: give the person as platform:user_id with platform one of slack, teams, sandbox, "
               "e.g. slack:U024BE7LH (did you mean slack:U1?)")
    with pytest.raises(SystemExit) as exit_:  # argparse refuses an unknown role before anything runs
        main(["roles", "grant", "slack:U024BE7LH", "boss"])
    assert exit_.value.code == 2 and "invalid choice: 'boss'" in capsys.readouterr().err
    assert run(capsys, "list") == (0, "no roles granted yet", "")
