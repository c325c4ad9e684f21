"""Which Slack workspace a conversation or person belongs to, for Earshot installed in several (OAuth).

slack_sdk's installation store keeps its own tables (slack_installations, slack_bots, slack_oauth_states): they
are created by migration 0007 but are not SQLModel models, since slack_sdk reads and writes them itself."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.columns import UTCDateTime, utcnow

SLACK_SDK_TABLES = frozenset({"slack_installations", "slack_bots", "slack_oauth_states"})
"""Created by migration 0007 for slack_sdk's stores; autogenerate leaves them alone (storage.migrate.include_name)."""


class SlackConversationTeam(SQLModel, table=True):
    """A channel, DM or user id seen in a request from (or posted to in) one workspace: an outbox Target names
    only the conversation, and its bot token is that workspace's."""

    __tablename__ = "slack_conversation_team"

    conversation_id: str = Field(primary_key=True, max_length=32)
    team_id: str | None = Field(default=None, max_length=32)
    enterprise_id: str | None = Field(default=None, max_length=32)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
