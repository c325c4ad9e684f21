"""Small worlds built item by item, for the digest tests that try to difference a hidden group out."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from storage.engine import Database
from storage.tables import Engagement, Feedback, Participation, Pulse, Question, Response, Station
from tests.digests.seed import LAST_WED, THIS_WED, _run


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._keys = itertools.count(1)
        self.ids: dict[str, int] = {}

    async def station(self, channel: str, areas: list[str], *, platform: str = "test",
                      workspace: str | None = None, filters: dict[str, Any] | None = None) -> None:
        """A station taking `areas` (`filters`, when given, instead)."""
        async with self.db.session() as session:
            session.add(Station(platform=platform, channel_id=channel, workspace=workspace,
                                filters={"areas": areas} if filters is None else filters,
                                created_by=f"{platform}:hr", created_at=LAST_WED - timedelta(days=30)))
            await session.commit()

    async def feedback(self, area: str | None, score: int | None = None, kind: str | None = None, text: str = "ok",
                       this_week: bool = True, source: str = "survey", language: str | None = None) -> str:
        """One item; returns its key for `engage`."""
        key = f"k{next(self._keys)}"
        when = THIS_WED if this_week else LAST_WED
        async with self.db.session() as session:
            row = Feedback(source=source, external_id=key, text=text, score=score, score_type=kind,
                           product_area=area, language=language, created_at=when, received_at=when)
            session.add(row)
            await session.commit()
            assert row.id is not None
            self.ids[key] = row.id
        return key

    async def pulse(self, channel: str, this_week: list[int], last_week: list[int], kind: str = "scale",
                    prompt: str = "How manageable is your workload?", *, platform: str = "test",
                    workspace: str | None = None) -> None:
        """A workload question (1–5, or eNPS 0–10) in `channel`, one run a week, answered by people 0…n-1 of
        the channel."""
        async with self.db.session() as session:
            pulse = Pulse(platform=platform, channel_id=channel, workspace=workspace, author_id="boss",
                          title="Weekly", anonymous=True)
            session.add(pulse)
            await session.flush()
            question = Question(pulse_id=pulse.id, position=0, kind=kind, prompt=prompt,
                                options=["1", "2", "3", "4", "5"] if kind == "scale" else [])
            session.add(question)
            await session.flush()
            assert question.id is not None
            for opened, day, values in ((datetime(2026, 11, 16, 9, tzinfo=UTC), date(2026, 11, 17), this_week),
                                        (datetime(2026, 11, 9, 9, tzinfo=UTC), date(2026, 11, 10), last_week)):
                if not values:
                    continue
                run = await _run(session, pulse, opened)
                for person, value in enumerate(values):
                    session.add(Response(run_id=run, question_id=question.id, value=str(value), answered_on=day))
                    session.add(Participation(run_id=run, question_id=question.id, platform=platform,
                                              user_id=f"{channel}-{person}"))
            await session.commit()

    async def engage(self, channel: str, user: str, key: str, kind: str = "reaction", hours: int = 1, *,
                     platform: str = "test") -> None:
        async with self.db.session() as session:
            session.add(Engagement(event_key=f"e{next(self._keys)}", feedback_id=self.ids[key], platform=platform,
                                   channel_id=channel, user_id=user, kind=kind,
                                   value="insight" if kind == "reaction" else None,
                                   created_at=THIS_WED + timedelta(hours=hours)))
            await session.commit()
