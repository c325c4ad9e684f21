"""How often one person may flip a card's on/off buttons. Each press that says which state it wants
(ActionEvent.pressed) is written as a reaction or an unreaction and edits the card on every member's page, and no
double-click window holds a script back: a page that clicks on and off at any human pace stays well inside."""

from __future__ import annotations

import time
from collections.abc import Callable

LIMIT = 10
WINDOW = 10.0
"""At most LIMIT on/off presses by one person on one card in any WINDOW seconds."""
KEPT = 1024
"""People-and-cards remembered: past it the quiet ones are forgotten, then the least recently pressed, down to
half, so memory stays bounded and the clean-up runs once per KEPT / 2 presses at most."""


class Presses:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit, self._window, self._clock = limit, window, clock
        self._recent: dict[tuple[str, str], list[float]] = {}

    def wait(self, user: str, card: str) -> float:
        """0 when `user` may press an on/off button of `card` now (the press is counted), else the seconds until
        they may again."""
        now = self._clock()
        recent = [at for at in self._recent.get((user, card), ()) if now - at < self._window]
        if len(recent) >= self._limit:
            self._recent[user, card] = recent
            return recent[0] + self._window - now
        recent.append(now)
        self._recent.pop((user, card), None)
        self._recent[user, card] = recent  # the most recently pressed last
        if len(self._recent) > KEPT:
            live = [(key, times) for key, times in self._recent.items() if now - times[-1] < self._window]
            self._recent = dict(live[-(KEPT // 2):])
        return 0.0
