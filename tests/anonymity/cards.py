"""What the author and the channel see of a pulse: per question, how many answers a card counts and which
comments it shows. The cards come in order; a count that moves by fewer than the minimum, or comments shown
below the comment minimum, tells which answer just arrived."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.cards import Card
from tests.anonymity.linking import Ledger

ROUTE = "cards"
BAR = re.compile(r"\((\d+)\)\s*$")  # `4 🙂  ██████░░░░ 60% (6)`
NUMBERED = re.compile(r"^\d+\. ")


@dataclass(frozen=True)
class Shown:
    count: int
    """Answers the card counts: the bars' total, or the comments shown for a question in words."""
    comments: int


def shown(card: Card, prompts: dict[int, str]) -> dict[int, Shown]:
    """Each question's figures on a question card or a results card: a question's summary is the text that
    follows its prompt."""
    by_prompt = {prompt: question for question, prompt in prompts.items()}
    current, figures = None, {}
    for block in card.blocks:
        if block.type != "text":
            continue
        body: str = block.text  # type: ignore[attr-defined]
        if NUMBERED.sub("", body, count=1) in by_prompt:
            current = by_prompt[NUMBERED.sub("", body, count=1)]
            continue
        if current is None:
            continue
        lines = body.splitlines()
        bars = [int(match.group(1)) for line in lines if ("█" in line or "░" in line) and (match := BAR.search(line))]
        comments = sum(1 for line in lines if line.startswith("“"))
        figures[current] = Shown(sum(bars) if bars else comments, comments)
    return figures


class CardWatch:
    """Checks each card as it arrives, per stream (the channel's cards, the author's)."""

    def __init__(self, ledger: Ledger, prompts: dict[int, str], minimum: int, comment_minimum: int) -> None:
        self.ledger, self.prompts = ledger, prompts
        self.minimum, self.comment_minimum = minimum, comment_minimum
        self.last: dict[tuple[str, int], int] = {}
        self.number = 0

    def look(self, vote: str, stream: str, card: Card) -> None:
        self.number += 1
        copy = f"{stream} card #{self.number} ({card.fallback})"
        figures = shown(card, self.prompts)
        for question in self.prompts:
            now = figures.get(question, Shown(0, 0))
            before = self.last.get((stream, question), 0)
            if 0 < abs(now.count - before) < self.minimum:
                self.ledger.fact("a", ROUTE, copy, vote, f"question {question}'s count went from {before} to "
                                                         f"{now.count} (a step below {self.minimum})")
            if 0 < now.comments < self.comment_minimum:
                self.ledger.fact("comments", ROUTE, copy, vote, f"{now.comments} comment(s) shown for question "
                                                                f"{question}, below {self.comment_minimum}")
            self.last[(stream, question)] = now.count
        self.ledger.see(ROUTE, copy, vote, self.ledger.secrets.tokens_in(repr(card)))
