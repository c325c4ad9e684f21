"""Sealing an anonymous answer for the time it waits to be published (bot/pulses/publishing.py).

A vote commits who answered (`participation`) in the same transaction as the answer, so any copy of that
commit (SQLite's WAL, PostgreSQL's WAL, a replica, a backup taken between the vote and its publication) holds
both. Sealed, the answer in that commit reads as nothing without the key, which lives outside the database
(`EARSHOT_SECRET_KEY`, or the SQLite key file beside the database: storage.secrets.resolve_keys).

Every sealed answer of one question has the same length, whatever was answered: the plaintext is padded to the
largest answer the question can take (with room for a comment of COMMENT_LIMIT characters when it takes words),
so neither the length of a comment nor whether there is one can be read off the ciphertext and matched to a
published answer. Nor does the token carry the time it was made (Fernet writes one in clear: here always 0).
Layout before padding: the value's and the comment's UTF-8 lengths (2 bytes each, NONE for
no comment), then both."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from bot.pulses.questions import COMMENT_LIMIT, answer_options
from storage.secrets import SecretBox
from storage.tables import Question

PURPOSE = "pulse answers"
NONE = 0xFFFF
HEADER = struct.Struct(">HH")
UTF8_MAX = 4  # bytes per character at most


def room(question: Question) -> int:
    """The plaintext size of every sealed answer to `question`: the longest value it accepts (every option of a
    multiple choice, comma-separated), and a comment of COMMENT_LIMIT characters if it takes words."""
    longest = max([len(",".join(v for _, v in answer_options(question.kind, question.options))), len("text"), 2])
    words = COMMENT_LIMIT * UTF8_MAX if question.allow_comment or question.kind == "text" else 0
    return HEADER.size + longest + words


class Sealer:
    def __init__(self, keys: Sequence[str]) -> None:
        self._box = SecretBox(keys, purpose=PURPOSE)

    def __repr__(self) -> str:
        return "Sealer(…)"

    def seal(self, question: Question, value: str, comment: str | None) -> str:
        value_bytes = value.encode()
        comment_bytes = comment.encode() if comment is not None else b""
        plain = HEADER.pack(len(value_bytes), NONE if comment is None else len(comment_bytes)) + value_bytes \
            + comment_bytes
        size = room(question)
        if len(plain) > size:  # voting refuses longer comments and values no option has, before this
            raise ValueError("an answer longer than its question allows")
        return self._box.seal_bytes(plain + bytes(size - len(plain)), at=0)  # no time of voting either

    def open(self, sealed: str) -> tuple[str, str | None]:
        """The value and comment (None: none was given). Raises storage.secrets.SecretKeyError without the key."""
        plain = self._box.open_bytes(sealed)
        value_length, comment_length = HEADER.unpack_from(plain)
        start = HEADER.size + value_length
        value = plain[HEADER.size:start].decode()
        comment = None if comment_length == NONE else plain[start:start + comment_length].decode()
        return value, comment
