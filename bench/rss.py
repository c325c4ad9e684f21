"""Memory of `earshot serve`: resident set size idle and under load, read from /proc/PID/status.

    python -m bench.rss [--quick]

`earshot serve` (web and worker in one process, SQLite, the sandbox on) is started and left idle for a few
seconds: `idle_mb` (VmRSS; target < 120 MB). Then ingest arrays of 100 items, 4 requests in flight, for a while
(every item routed to about five of 50 stations and delivered to the sandbox): `loaded_mb` (VmRSS right after)
and `peak_mb` (VmHWM, the high-water mark). The same for `earshot serve web` alone: `web_idle_mb`. The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from bench.common import emit, start_earshot, stop
from bench.ingest import TOKEN, batches, seed_stations


def megabytes(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} for process {pid}")


def measure(role: str, database: str, idle_seconds: float, load_batches: int) -> dict[str, float]:
    env = {"DATABASE_URL": database, "EARSHOT_INGEST_TOKEN": TOKEN, "EARSHOT_SANDBOX": "1"}
    process, url = start_earshot(env, role)
    try:
        time.sleep(idle_seconds)
        figures = {"idle_mb": megabytes(process.pid, "VmRSS")}
        if load_batches:
            asyncio.run(batches(url, load_batches, random.Random(role == "all")))
            time.sleep(1)
            figures |= {"loaded_mb": megabytes(process.pid, "VmRSS"), "peak_mb": megabytes(process.pid, "VmHWM")}
        return figures
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a shorter idle wait and a lighter load")
    args = parser.parse_args()
    idle, load = (3.0, 40) if args.quick else (10.0, 300)
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite+aiosqlite:///{Path(folder) / 'rss.db'}"
        seed_stations(database)
        both = measure("all", database, idle, load)
        web = measure("web", database, idle, 0)
    emit({**both, "web_idle_mb": web["idle_mb"], "items_loaded": load * 100, "target_idle_mb": 120})


if __name__ == "__main__":
    main()
