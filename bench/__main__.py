"""Every benchmark, one after another, and a table of their figures.

    python -m bench [--quick | --full] [NAME ...]

Runs `python -m bench.NAME --quick` for each benchmark (`--quick` is the default; `--full` runs them without
--quick), collects the JSON object each prints last, and prints one table: benchmark, figure, value. A
benchmark that fails is shown as failed with the end of its output, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.common import ROOT

BENCHMARKS = ("ingest", "vote_burst", "slack_ack", "teams_turn", "digest", "fanout", "scale", "rss")


def run(name: str, full: bool) -> tuple[dict[str, object] | None, str, float]:
    started = time.monotonic()
    command = [sys.executable, "-m", f"bench.{name}", *([] if full else ["--quick"])]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    lines = result.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1]) if result.returncode == 0 and lines else None
    except ValueError:
        figures = None
    return figures, (result.stdout + result.stderr)[-1500:], time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="quick runs, each benchmark with --quick (the default)")
    size.add_argument("--full", action="store_true", help="full runs (minutes each) instead of --quick")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"only these ({', '.join(BENCHMARKS)})")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}")
    rows: list[tuple[str, str, str]] = []
    for name in args.names or BENCHMARKS:
        print(f"bench.{name} …", file=sys.stderr, flush=True)
        figures, output, seconds = run(name, args.full)
        if figures is None:
            print(output, file=sys.stderr)
            rows.append((name, "FAILED", f"after {seconds:.0f} s"))
            continue
        rows += [(name, key, json.dumps(value, ensure_ascii=False)) for key, value in figures.items()]
        rows.append((name, "(wall seconds)", f"{seconds:.0f}"))
    widths = [max(len(row[i]) for row in [("benchmark", "figure", "value"), *rows]) for i in range(3)]
    for row in [("benchmark", "figure", "value"), tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
