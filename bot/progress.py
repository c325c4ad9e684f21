"""A small progress bar for long CLI work (stderr; a line per 10% when not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self._total = max(total, 1)
        self._label = label
        self._stream = stream
        self._width = width
        self._done = 0
        self._started = time.monotonic()
        self._last_decile = -1
        self._tty = stream.isatty()

    def advance(self, count: int) -> None:
        self._done = min(self._total, self._done + count)
        fraction = self._done / self._total
        rate = self._done / max(time.monotonic() - self._started, 1e-6)
        line = (f"{self._label} [{'#' * int(fraction * self._width):<{self._width}}] "
                f"{self._done}/{self._total} · {rate:,.0f}/s")
        if self._tty:
            self._stream.write("\r" + line)
        elif int(fraction * 10) != self._last_decile:
            self._last_decile = int(fraction * 10)
            self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()
