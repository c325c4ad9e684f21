"""Teams conversation ids: a channel thread is the channel's id plus `;messageid=<root activity id>`."""

from __future__ import annotations

PLATFORM = "teams"
_THREAD_MARK = ";messageid="


def base_conversation_id(conversation_id: str) -> str:
    """The channel or chat itself, without the thread suffix Teams adds to channel activities."""
    return conversation_id.split(_THREAD_MARK, 1)[0]


def thread_root(conversation_id: str) -> str | None:
    """The root activity id of the thread an activity belongs to, when it has one."""
    _, mark, root = conversation_id.partition(_THREAD_MARK)
    return root or None if mark else None


def thread_conversation_id(conversation_id: str, root_id: str) -> str:
    return f"{base_conversation_id(conversation_id)}{_THREAD_MARK}{root_id}"
