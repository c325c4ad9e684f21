"""The on/off press limit remembers a bounded number of people-and-cards, whatever a script throws at it."""

from __future__ import annotations

from adapters.sandbox.presses import KEPT, LIMIT, WINDOW, Presses


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_person_is_held_back_after_the_limit_and_free_again_after_the_window() -> None:
    clock = Clock()
    presses = Presses(clock=clock)
    assert all(presses.wait("ana", "1") == 0 for _ in range(LIMIT))
    assert presses.wait("ana", "1") == WINDOW
    assert presses.wait("ben", "1") == 0  # per person
    clock.now = WINDOW
    assert presses.wait("ana", "1") == 0


def test_memory_stays_bounded_when_every_press_is_recent_and_the_newest_are_kept() -> None:
    clock = Clock()
    presses = Presses(clock=clock)
    for card in range(KEPT * 5):  # all within one window: none is quiet enough to forget by age
        presses.wait("ana", str(card))
    assert len(presses._recent) <= KEPT
    for _ in range(LIMIT - 1):
        presses.wait("ana", str(KEPT * 5 - 1))
    assert presses.wait("ana", str(KEPT * 5 - 1)) > 0  # the most recent card is still counted
