"""Earshot's posts carry their outbox delivery in Slack message metadata, so a post whose outcome is unknown
(a killed worker, a timeout) can be found again in the conversation's history instead of being sent twice."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import calling

log = logging.getLogger(__name__)

EVENT_TYPE = "earshot_delivery"
PAGE = 200
PAGES = 5
CLOCK_SKEW = timedelta(minutes=2)
"""Message timestamps are Slack's clock and `since` is ours: look a little further back than `since`."""


def mark(key: str) -> dict[str, Any]:
    """chat.postMessage `metadata` naming the delivery a post is for."""
    return {"event_type": EVENT_TYPE, "event_payload": {"delivery": key}}


def _is_ours(message: dict[str, Any], key: str, bot_user_id: str) -> bool:
    metadata = message.get("metadata") or {}
    return (message.get("user") == bot_user_id and metadata.get("event_type") == EVENT_TYPE
            and (metadata.get("event_payload") or {}).get("delivery") == key)


async def find_marked(client: AsyncWebClient, channel: str, thread_ts: str | None, key: str, since: datetime,
                      bot_user_id: str) -> str | None:
    """The ts of the bot's post marked with `key` since `since`: conversations.history, or conversations.replies
    for a thread, at most PAGES pages. None when it is not there (or not within those pages)."""
    oldest = f"{(since - CLOCK_SKEW).timestamp():.6f}"
    cursor: str | None = None
    for _ in range(PAGES):
        if thread_ts:
            page = await calling(client.conversations_replies(
                channel=channel, ts=thread_ts, oldest=oldest, limit=PAGE, cursor=cursor, include_all_metadata=True))
        else:
            page = await calling(client.conversations_history(
                channel=channel, oldest=oldest, limit=PAGE, cursor=cursor, include_all_metadata=True))
        for message in page.get("messages") or ():
            if _is_ours(message, key, bot_user_id):
                return str(message["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return None
    log.warning("delivery %s: not found in the last %d messages of %s; it may be posted twice", key,
                PAGE * PAGES, channel)
    return None
