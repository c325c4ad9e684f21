"""Who a pulse is for: channel members as the platform tells them, and the DMs a run actually sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import Adapter, DeliveryError
from bot.events import Person
from storage.tables import Delivery, Pulse
from storage.tables import Person as PersonRow

MEMBERS_TTL_SECONDS = 300.0
RECHECK_SECONDS = 10.0
"""How soon a channel's members are asked again for someone not among them (who may have just joined)."""
MEMBERS_CACHED = 1_000
UNKNOWN_NAMED = 5
"""Ids not known as people that a refusal names (the search stops there: made-up ids cost a lookup each)."""
LOOKUPS_AT_ONCE = 8


@runtime_checkable
class MemberIds(Protocol):
    """Optional adapter capability: a channel's member ids from its member listing alone, with no per-person
    lookups (Slack's list_members also calls users.info once per member, for names and timezones)."""

    async def member_ids(self, channel_id: str) -> list[str]: ...


@runtime_checkable
class PersonLookup(Protocol):
    """Optional adapter capability: the person with this id, None when no such person can be reached (a bot, a
    deactivated account, an id nobody has). Slack asks users.info; the sandbox knows its people."""

    async def person(self, user_id: str) -> Person | None: ...


async def unknown_people(session: AsyncSession, adapter: Adapter | None, platform: str,
                         users: list[str]) -> list[str]:
    """The first UNKNOWN_NAMED of `users` that are not people, where the platform can tell (PersonLookup): a
    pulse for listed people sends each a DM, and made-up ids would each cost one. Someone Earshot has seen
    (the Person table) needs no question. Raises DeliveryError when the platform can't answer just now."""
    if not isinstance(adapter, PersonLookup):
        return []
    seen = set(await session.exec(select(PersonRow.user_id).where(
        PersonRow.platform == platform, col(PersonRow.user_id).in_(users))))
    ask = [user for user in users if user not in seen]

    async def is_person(user_id: str) -> bool:
        try:
            return await adapter.person(user_id) is not None
        except DeliveryError as error:
            if error.retryable:
                raise
            return False  # user_not_found and the like

    unknown: list[str] = []
    for start in range(0, len(ask), LOOKUPS_AT_ONCE):
        batch = ask[start:start + LOOKUPS_AT_ONCE]
        found = await asyncio.gather(*(is_person(user) for user in batch))
        unknown += [user for user, person in zip(batch, found, strict=True) if not person]
        if len(unknown) >= UNKNOWN_NAMED:
            break
    return unknown[:UNKNOWN_NAMED]


async def strangers(session: AsyncSession, adapter: Adapter | None, platform: str, channel_id: str,
                    users: Sequence[str]) -> list[str]:
    """The first UNKNOWN_NAMED of `users` (names typed as words, not picked as mentions) that nobody Earshot
    knows goes by, on a platform that can't look people up: not in the Person table, nor in this channel.
    Raises DeliveryError when the channel's members can't be read just now."""
    seen = set(await session.exec(select(PersonRow.user_id).where(
        PersonRow.platform == platform, col(PersonRow.user_id).in_(list(users)))))
    left = [user for user in dict.fromkeys(users) if user not in seen]
    if left and adapter is not None:
        members = set(await channel_member_ids(adapter, channel_id))
        left = [user for user in left if user not in members]
    return left[:UNKNOWN_NAMED]


async def channel_member_ids(adapter: Adapter, channel_id: str) -> list[str]:
    """A channel's member ids: from the member listing alone where the platform can (MemberIds), else from its
    member list. Raises DeliveryError when the platform can't say."""
    if isinstance(adapter, MemberIds):
        return await adapter.member_ids(channel_id)
    return [person.user_id for person in await adapter.list_members(channel_id)]


async def member_count(adapter: Adapter | None, channel_id: str) -> int | None:
    """How many people are in a channel, if the platform can say cheaply (MemberIds); None otherwise or when
    it fails: the count only feeds the participation rate, never worth failing a launch for."""
    if not isinstance(adapter, MemberIds):
        return None
    try:
        return len(await adapter.member_ids(channel_id))
    except DeliveryError:
        return None


def dm_key(run_id: int | None, user_id: str) -> str:
    """The outbox key of a run's question sent to one person by DM."""
    return f"pulse:{run_id}:{user_id}"


async def dm_times(session: AsyncSession, run_id: int | None) -> dict[str, datetime]:
    """Each person a run's questions went to by DM, with when it went (or is due, for per-person local time);
    DMs the platform refused for good are left out."""
    rows = await session.exec(select(Delivery.target, Delivery.sent_at, Delivery.next_attempt_at).where(
        Delivery.subject_kind == "pulse_run", Delivery.subject_id == run_id, Delivery.kind == "send",
        Delivery.status != "failed"))
    return {target["user_id"]: sent or due for target, sent, due in rows if target and target.get("user_id")}


class Members:
    """Channel members by platform, kept a few minutes: the Home tab asks on every open, and every answer to a
    channel pulse is checked against them. One question to the platform per channel at a time; at most
    MEMBERS_CACHED channels are kept."""

    def __init__(self, adapters: Mapping[str, Adapter], clock: Callable[[], float] = time.monotonic) -> None:
        self._adapters = adapters
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}
        self._asking: dict[tuple[str, str], asyncio.Future[frozenset[str] | None]] = {}

    async def of(self, platform: str, channel_id: str) -> frozenset[str]:
        """The members; a platform error counts as "not known" (the caller shows less, never more)."""
        cached = self._cache.get((platform, channel_id))
        if cached is not None and self._clock() - cached[0] < MEMBERS_TTL_SECONDS:
            return cached[1]
        return await self._ask(platform, channel_id) or frozenset()

    async def holds(self, platform: str, channel_id: str, user_id: str) -> bool | None:
        """Whether `user_id` is in the channel; None when the platform can't say. Someone not in the list kept
        is looked up again (once per RECHECK_SECONDS per channel), so a person who just joined can answer."""
        cached = self._cache.get((platform, channel_id))
        if cached is not None:
            age, ids = self._clock() - cached[0], cached[1]
            if age < RECHECK_SECONDS or (user_id in ids and age < MEMBERS_TTL_SECONDS):
                return user_id in ids
        known = await self._ask(platform, channel_id)
        return None if known is None else user_id in known

    async def _ask(self, platform: str, channel_id: str) -> frozenset[str] | None:
        key = (platform, channel_id)
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.ensure_future(self._read(platform, channel_id))
            asking.add_done_callback(lambda _: self._asking.pop(key, None))
        return await asyncio.shield(asking)

    async def _read(self, platform: str, channel_id: str) -> frozenset[str] | None:
        adapter = self._adapters.get(platform)
        try:
            ids = frozenset(await channel_member_ids(adapter, channel_id)) if adapter else frozenset()
        except DeliveryError:
            return None
        self._cache.pop((platform, channel_id), None)
        self._cache[(platform, channel_id)] = (self._clock(), ids)
        while len(self._cache) > MEMBERS_CACHED:  # the oldest first: dicts keep insertion order
            del self._cache[next(iter(self._cache))]
        return ids


async def dm_sent(session: AsyncSession, run_id: int, user_id: str) -> bool:
    """Whether a run's questions went (or are due to go) to `user_id` by DM."""
    found = await session.exec(select(Delivery.id).where(Delivery.dedupe_key == dm_key(run_id, user_id)))
    return found.first() is not None


async def may_answer(session: AsyncSession, members: Members, platform: str, audience: dict[str, object],
                     run_id: int, user_id: str) -> bool | None:
    """Whether `user_id` is in a run's audience, whatever a client sent: listed people and those the run's DM
    went to, or the members of a channel pulse's channel (None when the platform can't say just now)."""
    users = audience.get("users")
    if audience.get("kind") == "people" and isinstance(users, list) and user_id in users:
        return True
    if audience.get("kind") in ("people", "dm"):
        return await dm_sent(session, run_id, user_id)
    return await members.holds(platform, str(audience.get("channel_id") or ""), user_id)


async def in_audience(session: AsyncSession, members: Members, user_id: str, runs: list[tuple[Pulse, int]],
                      limit: int | None = None) -> list[tuple[Pulse, int]]:
    """The (pulse, run id) pairs whose audience holds `user_id` (the first `limit` of them): listed people, those
    a run's DM went to, and the members of a channel pulse's channel. A person sees only their own workspace's
    pulses this way (or a channel shared with it), since membership is asked of the channel's own workspace."""
    dm_runs = [run_id for pulse, run_id in runs if pulse.audience.get("kind") == "dm"]
    sent = set(await session.exec(select(Delivery.dedupe_key).where(
        col(Delivery.dedupe_key).in_([dm_key(run_id, user_id) for run_id in dm_runs])))) if dm_runs else set()
    found = []
    for pulse, run_id in runs:
        match pulse.audience.get("kind"):
            case "people":
                mine = user_id in pulse.audience.get("users", ())
            case "dm":
                mine = dm_key(run_id, user_id) in sent
            case _:
                mine = user_id in await members.of(pulse.platform, pulse.audience.get("channel_id", ""))
        if mine:
            found.append((pulse, run_id))
            if len(found) == limit:
                break  # no more member lists to ask for
    return found
