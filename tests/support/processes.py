"""`earshot serve ROLE` in child processes for multi-process tests: JSON logs in a file, SIGKILL on demand,
and every child killed when the test ends."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> list[dict[str, Any]]:
        """The child's log lines (JSON objects); a line that is not JSON is kept as {"raw": line}."""
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                entries.append({"raw": line})
        return entries

    def logged(self, fragment: str) -> bool:
        return any(fragment in str(entry.get("message", entry.get("raw", ""))) for entry in self.logs())

    async def wait_logged(self, fragment: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.logged(fragment):
            if self.process.poll() is not None:
                raise AssertionError(f"the child exited ({self.process.returncode}): {self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{fragment!r} not logged within {seconds} s: {self.tail()}")
            await asyncio.sleep(0.1)

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """SIGKILL: no clean-up runs, sessions and sockets are dropped by the kernel."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class Children:
    env: dict[str, str]
    started: list[Child] = field(default_factory=list)

    def spawn(self, role: str, port: int | None = None, **env: str) -> Child:
        log = tempfile.NamedTemporaryFile(prefix=f"earshot-{role}-", suffix=".log", delete=False)  # noqa: SIM115
        child_env = {**os.environ, **self.env, **env, "EARSHOT_LOG_FORMAT": "json", "HOST": "127.0.0.1"}
        if port is not None:
            child_env["PORT"] = str(port)
        process = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve", role], env=child_env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)
        log.close()
        child = Child(process, Path(log.name), port)
        self.started.append(child)
        return child


@contextmanager
def children(**env: str) -> Iterator[Children]:
    group = Children(env)
    try:
        yield group
    finally:
        for child in group.started:
            child.kill()
            child.log_path.unlink(missing_ok=True)
