"""Whose digest: the facts a digest shown in chat is built from are those of its viewer's platform and workspace.

No data crosses platforms or Slack workspaces (DESIGN.md), so a digest shown in chat (`/digest preview`, a
subscription's weekly post) is built from the facts of one `Viewer` alone: its overall, teams, trend, flags and
quotes, and the anonymity rules then run on that scope's data as they do on a whole organisation's.

- Pulses (scores, participation, comments, the eNPS distribution) are those stored with the viewer's platform
  and workspace; stations (teams and the areas they hear) likewise.
- Engagement with customer feedback (reactions, claims, closed loops, seen and claimed shares, time to first
  reaction, the quotes employees reacted to, and so the flags) is that made in the viewer's channels: the
  channels of its platform where a station, a pulse or a digest subscription was stored with its workspace.
- Customer feedback itself (volume, NPS, CSAT, themes of what customers wrote, its distributions) arrives
  through the organisation's one ingest, belongs to no platform, and stays the organisation's.

Only the operator's `earshot digest` (run on the server) builds the whole organisation's, every platform's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.sql.elements import ColumnElement

from storage.tables import DigestSubscription, Pulse, Station


@dataclass(frozen=True)
class Viewer:
    """A platform, and its workspace where one platform connection serves several (bot.events.Event.workspace;
    None: the platform's rows made with no workspace, as Teams, the sandbox and single-token Slack make them)."""

    platform: str
    workspace: str | None = None


def owned(viewer: Viewer | None, platform: Any, workspace: Any) -> list[ColumnElement[bool]]:
    """Conditions on a row's platform and workspace columns: the rows made in the viewer's workspace (none: all)."""
    if viewer is None:
        return []
    same = workspace.is_(None) if viewer.workspace is None else workspace == viewer.workspace
    return [platform == viewer.platform, same]


def in_channels(viewer: Viewer | None, platform: Any, channel_id: Any) -> list[ColumnElement[bool]]:
    """Conditions on a row's platform and channel columns: the rows of the viewer's channels (none: all)."""
    if viewer is None:
        return []
    tables = (Station.__table__.c, Pulse.__table__.c, DigestSubscription.__table__.c)  # type: ignore[attr-defined]
    channels = union(*(select(t.channel_id).where(*owned(viewer, t.platform, t.workspace)) for t in tables))
    return [platform == viewer.platform, channel_id.in_(channels)]
