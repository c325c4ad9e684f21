"""Sign-ins to the sandbox, for the audit log: whoever holds its link acts as anyone in it, so the log records, per
browser session (adapters/sandbox/guard.py), the person it first acts as (`sandbox.signed_in`), and each person
the page then switches to with "You are" (`sandbox.switched_person`, the first time in that session).

Once per session and person, never per request: the page reloads and polls often, and a vote is an API call that
must not wait for a write (bench/vote_burst.py votes as thousands of people from one session). So only a page
load (`GET /sandbox/api/state`, which the "You are" switch makes) can record a switch; other calls as another
person are covered by their session's sign-in. Most requests only look up a dictionary here."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from adapters.sandbox.workspace import PLATFORM
from bot.governance.audit import record
from storage.engine import Database

SESSIONS = 1_000
"""Browser sessions remembered; the least recently seen is forgotten first (coming back, it is recorded as a new
sign-in), so a script trading the link in a loop can't grow this without bound."""


@dataclass
class _Session:
    current: str
    """The person the page last loaded as."""
    people: set[str] = field(default_factory=set)
    """Everyone the session's sign-in or switches were recorded for."""


class SignIns:
    def __init__(self, db: Database, keys: Sequence[str], limit: int = SESSIONS) -> None:
        self._db = db
        self._keys = keys
        self._limit = limit
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    async def acting(self, session_id: str, user: str, *, page: bool = False) -> None:
        """Browser session `session_id` acts as `user` in this request; `page`: it is the page loading as them."""
        known = self._sessions.get(session_id)
        if known is not None:
            self._sessions.move_to_end(session_id)
            if not page:
                return
            if user in known.people:
                known.current = user
                return
            previous: str | None = known.current
            known.people.add(user)  # before the write: requests arriving together record it once
            known.current = user
        else:
            previous = None
            self._sessions[session_id] = _Session(user, {user})
            while len(self._sessions) > self._limit:
                self._sessions.popitem(last=False)
        try:
            async with self._db.write() as session:
                if previous is None:
                    await record(session, self._keys, actor=f"{PLATFORM}:{user}", action="sandbox.signed_in",
                                 subject=f"{PLATFORM}:{user}")
                else:
                    await record(session, self._keys, actor=f"{PLATFORM}:{previous}",
                                 action="sandbox.switched_person", subject=f"{PLATFORM}:{user}")
                await session.commit()
        except BaseException:  # not recorded: the next request tries again
            if previous is None:
                self._sessions.pop(session_id, None)
            elif known is not None:
                known.people.discard(user)
                known.current = previous
            raise
