"""The people of an adversarial run and what only the test knows about them: who each one is, the Teams-style
conversation they answer from, and the random token hidden in each of their answers. The map from a person to
their tokens lives in test memory only; the suite then looks for the tokens, and the people, in every copy."""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# what the tokens and ids look like, so one pass of a regular expression finds every candidate in a large copy
# (each matches only its literal prefix, so a stray "U" just before an id can't hide it, and the scan stays fast)
TOKEN = (re.compile(rb"tok(?=[a-z2-7]{16})"), 19)
USER = (re.compile(rb"U(?=[A-Z2-7]{10})"), 11)
CONVERSATION = (re.compile(rb"a:1(?=[A-Za-z0-9]{24})"), 27)
# words around a token, in several scripts, so answers are not plain ASCII
FILLER = "мнение 意見 ανατροφοδότηση ملاحظات réunion über naïve 🙏 ✓ "


def _found(pattern: tuple[re.Pattern[bytes], int], data: bytes) -> set[bytes]:
    prefix, length = pattern
    return {data[m.start():m.start() + length] for m in prefix.finditer(data)}


def _pick(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class Voter:
    user_id: str
    """"U" and 10 random base32 characters, as a Slack id looks."""
    conversation_id: str
    """The voter's 1:1 chat as Teams names it ("a:1…"): Teams event ids carry it."""

    @classmethod
    def random(cls) -> Voter:
        return cls("U" + _pick(BASE32, 10), "a:1" + _pick(ALPHANUMERIC, 24))


@dataclass(frozen=True)
class Answer:
    voter: Voter
    question_id: int
    token: str
    value: str | None
    """The scale value for a question with a comment box; None for a question answered in words."""
    comment: str

    @classmethod
    def random(cls, voter: Voter, question_id: int, value: str | None) -> Answer:
        token = "tok" + _pick(BASE32.lower(), 16)
        before, after = (FILLER * 4)[:random.randint(0, 120)], (FILLER * 4)[:random.randint(0, 120)]
        return cls(voter, question_id, token, value, f"{before}{token} {after}".strip())


@dataclass
class Secrets:
    """The tokens and names a copy must not tie together, and how to find them in text or bytes."""

    answers: list[Answer]
    tokens: dict[str, Answer] = field(init=False)
    names: dict[bytes, str] = field(init=False)
    """A voter's id or conversation id (as bytes) -> the voter's id."""

    def __post_init__(self) -> None:
        self.tokens = {a.token: a for a in self.answers}
        self.names = {}
        for answer in self.answers:
            self.names[answer.voter.user_id.encode()] = answer.voter.user_id
            self.names[answer.voter.conversation_id.encode()] = answer.voter.user_id

    def tokens_in(self, data: bytes | str) -> set[str]:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        return {found.decode() for found in _found(TOKEN, raw)} & self.tokens.keys()

    def people_in(self, data: bytes | str) -> set[str]:
        """The voters a piece of data names, by their id or by the conversation they answer from."""
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        return {self.names[found] for pattern in (USER, CONVERSATION) for found in _found(pattern, raw)
                if found in self.names}

    def question_of(self, token: str) -> int:
        return self.tokens[token].question_id

    def voters_of(self, tokens: Iterable[str]) -> list[str]:
        return sorted(self.tokens[token].voter.user_id for token in tokens)
