"""How an erased employee is left behind where their acts are kept for counts: a random token per erasure."""

from __future__ import annotations

import secrets

ERASED_PREFIX = "erased:"
FORMER_COLLEAGUE = "a former colleague"
"""What a card shows where an erased person's name was (a claim, a closed loop)."""


def erased_token() -> str:
    """A new user id for one erased person: the same within one erasure, so counts of distinct people stay
    right, and random, so nothing stored links it back to who it was."""
    return ERASED_PREFIX + secrets.token_hex(12)


def is_erased(user_id: str) -> bool:
    return user_id.startswith(ERASED_PREFIX)
