"""Erasure on request: a customer's feedback (with every copy the database keeps and every card posted of it), or
everything about one employee.

A customer's items are deleted with the rows hanging off them; each posted card of them is edited to
"removed at the customer's request" through the outbox (so the words leave Slack, Teams and the sandbox too), and
the stored copies of the words (sent and pending deliveries, roll-ups and digests that quoted them, sandbox
messages) are scrubbed. An employee's named answers, reactions, roles, people rows and conversation references
are deleted; what counts rely on (engagement, who answered a run, claims, what they set up) is kept under one
random token per erasure (bot.governance.former), which cards show as "a former colleague".

Both run as a dry run first when asked (counts only, never text), are idempotent (a second run finds nothing), and
are recorded in the audit log with counts alone."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, delete, func, literal, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cards import Card, Text
from bot.config import PLATFORMS, Settings
from bot.feedback.redact import Redactor
from bot.feedback.views import refresh_cards
from bot.files import SCHEME, file_id
from bot.governance.audit import record
from bot.governance.former import erased_token
from bot.governance.tombstones import bury, email_digest, item_digest, normal_email
from bot.outbox import Outbox
from bot.pulses.cards import question_card, results_card
from bot.pulses.results import run_minimum, run_results
from bot.spreadsheet import MIME as CSV_MIME
from bot.spreadsheet import read_csv
from storage.engine import Database, flush_deleted
from storage.secrets import keyed_digest
from storage.tables import (
    Claim,
    ConversationRef,
    Delivery,
    DigestSubscription,
    Engagement,
    Feedback,
    FeedbackReaction,
    Participation,
    Person,
    Pulse,
    PulseRun,
    Question,
    Response,
    RoleGrant,
    SandboxChannel,
    SandboxMember,
    SandboxMessage,
    SlackConversationTeam,
    Station,
    StationItem,
    StoredFile,
)

REMOVED = "🗑 Removed at the customer's request."
REMOVED_CARD = Card(fallback="Removed at the customer's request.", blocks=(Text(REMOVED),))
EXPORT_REMOVED = ("📎 This export was removed: it held the answers of someone whose data was erased on request. "
                  "Export the pulse again for a current copy.")
COMMENT_REMOVED = "💬 A comment was removed at its author's request."
EXPORTS_PER_READ = 20
"""Stored files read per step when looking for a person's rows in exports."""
ITEMS_PER_BATCH = 100
"""Items erased per transaction: each holds SQLite's write lock briefly, so votes never wait long."""
SCAN_BATCH = 500
"""Rows read per step when scanning (customers' e-mails inside their JSON, stored cards for quotes)."""
SUBJECT_DIGEST = "erasure subjects"
"""The purpose an erased customer's e-mail, or item source and id, is digested for in the audit log
(storage.secrets.keyed_digest)."""
SANDBOX = "sandbox"
MENTION = re.compile(r"<@(?P<user>[^|<>\s]{1,128})(?:\|[^>]*)?>|@(?P<plain>[\w.\-]{1,128})")
"""A person as a chat platform writes a mention in a command's text (Slack `<@U024BE7LH>`, the sandbox `@ana`)."""
ANONYMOUS_NOTE = ("Anonymous pulse answers are not erased: they are stored without any link to who gave them, so "
                  "nothing can find one person's among them (docs/governance.md). Their anonymous answers still "
                  "waiting to be published are kept, no longer linked to them, and published with the others'.")

Advance = Callable[[int], None]

LABELS = {
    # a customer's
    "feedback": "feedback items", "engagement": "engagement records", "claims": "claims and closed loops",
    "reactions": "reactions", "station_log": "station log entries", "posted_cards": "posted cards (edited)",
    "unsent_cards": "cards not sent yet (dropped)", "quoting_cards": "roll-ups and digests quoting them (edited)",
    "sandbox_messages": "sandbox messages",
    # an employee's: deleted
    "named_answers": "named answers and comments", "people": "people records",
    "conversation_refs": "stored conversation references", "roles": "roles", "direct_messages": "direct messages "
    "to them", "files": "files made for them", "slack_records": "Slack workspace records",
    "sandbox_members": "sandbox memberships", "comment_texts": "words of their thread replies",
    "exports": "pulse exports holding their answers",
    "audiences": "pulses asked of them by name",
    "results_cards": "results cards quoting their comments (edited)",
    # an employee's: kept under the token
    "participations": "pulse participations", "sealed_waiting": "anonymous answers waiting to be published",
    "grants_given": "roles they granted", "stations": "stations they set up",
    "digest_subscriptions": "digest subscriptions they set up", "pulses": "pulses they wrote",
    "queued_by_them": "messages they queued",
}
"""Each kind of row an erasure counts, as people read it (the keys are the audit entry's details)."""
KEPT = frozenset({"audiences", "participations", "sealed_waiting", "grants_given", "stations",
                  "digest_subscriptions", "pulses", "queued_by_them"})
"""An employee's rows kept for counts, under the token; engagement and claims are too (they say so themselves)."""


def _quiet(_count: int) -> None:
    """No progress to show."""


@dataclass
class Erasure:
    """What an erasure found (dry run) or did: counts per kind of row, and the feedback items' ids — never text."""

    counts: Counter[str] = field(default_factory=Counter)
    feedback_ids: list[int] = field(default_factory=list)
    dry_run: bool = False
    flushed: bool = True
    """SQLite: whether the WAL was emptied afterwards (False: a reader held it; the next checkpoint empties it)."""

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())

    def details(self) -> dict[str, int]:
        """For the audit log: a count per kind of row, those kept under a token summed as `anonymised`."""
        found = {kind: count for kind, count in sorted(self.counts.items()) if count and kind not in KEPT}
        kept = sum(count for kind, count in self.counts.items() if kind in KEPT)
        return {**found, "anonymised": kept} if kept else found

    def lines(self) -> list[str]:
        """What went (or would go), kind by kind, for people: counts and item ids, never text."""
        person = "named_answers" in self.counts
        shown = []
        for kind, count in self.counts.items():
            if not count:
                continue
            label = LABELS.get(kind, kind)
            if person and (kind in KEPT or kind in ("engagement", "claims")):
                label += " (kept as a former colleague)" if kind == "claims" else " (kept, anonymised)"
            shown.append(f"{label}: {count}")
        if self.feedback_ids:
            shown.append("feedback item ids: " + ", ".join(f"#{i}" for i in self.feedback_ids[:50])
                         + (f" and {len(self.feedback_ids) - 50} more" if len(self.feedback_ids) > 50 else ""))
        return shown


@dataclass(frozen=True)
class Customer:
    """Who a customer erasure is about: an e-mail address, or one item's source and id."""

    email: str | None = None
    source: str | None = None
    external_id: str | None = None

    def __post_init__(self) -> None:
        if (self.email is None) == (self.source is None or self.external_id is None):
            raise ValueError("name the customer by an e-mail address, or by a source and an id (both)")
        if self.email is not None and (len(self.email) > 500 or len(normal_email(self.email) or "x" * 255) > 254):
            raise ValueError("that is not an e-mail address")
        if len(self.source or "") > 100 or len(self.external_id or "") > 200:
            raise ValueError("no item has a source or id that long (100 and 200 characters at most)")

    def digest(self, keys: Sequence[str]) -> dict[str, str]:
        """How the audit log names the customer: never in clear (an e-mail, or a source's id that its owner can look
        up), but as a keyed digest, the same for the same customer, that nobody without the key can test a guess
        against."""
        if self.email is not None:
            return {"email_digest": keyed_digest(keys, SUBJECT_DIGEST, normal_email(self.email) or "")}
        return {"item_digest": keyed_digest(keys, SUBJECT_DIGEST, json.dumps([self.source, self.external_id]))}


    def tombstone(self, keys: Sequence[str]) -> str:
        """The digest that keeps the customer's feedback out of the ingest from now on (bot.governance.tombstones):
        their e-mail address's, or the one item's."""
        if self.email is not None:
            return email_digest(keys, self.email) or ""
        return item_digest(keys, self.source or "", self.external_id or "")


def parse_person(text: str, platform: str | None = None) -> tuple[str, str]:
    """(platform, user_id) from `platform:user_id`, or from a mention on `platform` (chat); ValueError otherwise."""
    text = text.strip()
    if platform is not None and (found := MENTION.fullmatch(text)):
        return platform, found.group("user") or found.group("plain")
    named, _, user_id = text.partition(":")
    if named not in PLATFORMS or not user_id or len(user_id) > 128 or any(c.isspace() for c in user_id):
        raise ValueError(f"give the person as platform:user_id with platform one of {', '.join(PLATFORMS)}, e.g. "
                         "slack:U024BE7LH" + (", or mention them" if platform is not None else ""))
    return named, user_id


class Eraser:
    """Finds and erases; the same for the command line and chat."""

    def __init__(self, db: Database, outbox: Outbox, keys: tuple[str, ...], settings: Settings) -> None:
        self._db = db
        self._outbox = outbox
        self._keys = keys
        self._settings = settings
        """For the pulse cards drawn again without an erased person's answers (their minimums)."""
        self._redact = Redactor(settings.redact_patterns)

    # -- customers ---------------------------------------------------------------------------------
    async def customer_items(self, customer: Customer) -> list[int]:
        """The ids of the customer's items. E-mails are matched case-insensitively inside the `customer` JSON,
        read in batches (a JSON query would differ between SQLite and PostgreSQL)."""
        async with self._db.session() as session:
            if customer.email is None:
                rows = await session.exec(select(Feedback.id).where(
                    Feedback.source == customer.source, Feedback.external_id == customer.external_id))
                return [i for i in rows if i is not None]
            wanted = normal_email(customer.email)
            found: list[int] = []
            last = 0
            while True:
                rows = (await session.exec(select(Feedback.id, Feedback.customer).where(
                    col(Feedback.customer).is_not(None), col(Feedback.id) > last)
                    .order_by(col(Feedback.id)).limit(SCAN_BATCH))).all()
                if not rows:
                    return found
                found.extend(i for i, details in rows if _email_of(details) == wanted and i is not None)
                last = rows[-1][0] or last

    async def erase_customer(self, customer: Customer, *, actor: str, dry_run: bool = False,
                             ids: list[int] | None = None, advance: Advance = _quiet,
                             workspace: str | None = None) -> Erasure:
        """Erase (or with `dry_run`, count) the customer's items (`ids`, when already found by customer_items)
        and every copy of their words. `advance` is told how many items each step finished. Stored copies of the
        words are scrubbed before the items go, so a run cut short and run again still finds them by their text.
        `workspace`: the chat workspace it was asked from, for the audit entry (bot.events.Event.workspace)."""
        if not dry_run:  # first: an item ingested from now on is refused, or stored before and found below
            async with self._db.write() as session:
                await bury(session, [customer.tombstone(self._keys)])
                await session.commit()
            ids = sorted({*(ids or ()), *await self.customer_items(customer)})  # any stored since `ids` were found
        ids = await self.customer_items(customer) if ids is None else ids
        erasure = Erasure(feedback_ids=ids, dry_run=dry_run)
        if ids:
            quotes = await self._quotes(ids)
            erasure.counts.update(await self._scrub_quotes(quotes, dry_run))
            for start in range(0, len(ids), ITEMS_PER_BATCH):
                batch = ids[start:start + ITEMS_PER_BATCH]
                async with self._db.write() as session:
                    erasure.counts.update(await self._erase_items(session, batch, dry_run))
                    if not dry_run:
                        await session.commit()
                advance(len(batch))
        if not dry_run:
            details: dict[str, Any] = {**erasure.details(), **customer.digest(self._keys)}
            async with self._db.write() as session:
                await record(session, self._keys, actor=actor, action="erase.customer", subject="customer",
                             details=details, workspace=workspace)
                await session.commit()
            erasure.flushed = await flush_deleted(self._db)  # no frame of the old pages left in SQLite's WAL
        return erasure

    async def _quotes(self, ids: list[int]) -> list[str]:
        """The items' words as cards quote them (masked), to find the copies other cards made."""
        async with self._db.session() as session:
            texts = await session.exec(select(Feedback.text).where(col(Feedback.id).in_(ids)))
            return [quoted for text in texts if (quoted := self._redact(text).strip())]

    async def _erase_items(self, session: AsyncSession, ids: list[int], dry_run: bool) -> Counter[str]:
        counts: Counter[str] = Counter({"feedback": len(ids)})
        if not dry_run:  # a tool's retry of any of them, whatever e-mail it gives, stays out
            await bury(session, [item_digest(self._keys, source, external) for source, external in await session.exec(
                select(Feedback.source, Feedback.external_id).where(col(Feedback.id).in_(ids)))])
        for table, kind in ((Engagement, "engagement"), (Claim, "claims"), (FeedbackReaction, "reactions"),
                            (StationItem, "station_log")):
            found = (await session.exec(select(func.count()).select_from(table).where(
                col(table.feedback_id).in_(ids)))).one()  # type: ignore[attr-defined]
            counts[kind] += found
            if found and not dry_run:
                await session.exec(delete(table).where(col(table.feedback_id).in_(ids)))  # type: ignore[attr-defined,call-overload]
        sends = list(await session.exec(select(Delivery).where(  # locked: the outbox worker can't claim one meanwhile
            Delivery.subject_kind == "feedback", col(Delivery.subject_id).in_(ids), Delivery.kind == "send")
            .order_by(col(Delivery.id)).with_for_update()))
        for delivery in sends:
            if delivery.status in ("pending", "failed") and (  # never posted: it must not go out
                    dry_run or await self._drop_unsent(session, delivery)):
                counts["unsent_cards"] += 1
                continue
            counts["posted_cards"] += 1
            if dry_run:
                continue
            if delivery.platform == SANDBOX and delivery.message_id and delivery.message_id.isdigit():
                await self._scrub_sandbox_message(session, int(delivery.message_id))  # counted by the quote scan
            await self._replace(session, delivery, REMOVED_CARD)
            # reactions on it no longer reach an item, and a new item given the freed id (SQLite reuses the highest)
            # gets its own cards (not skipped as duplicates of these) and edits (not of these)
            delivery.subject_kind, delivery.subject_id = "erased", None
            delivery.dedupe_key = f"erased:{delivery.id}"
            session.add(delivery)
        if not dry_run:
            await session.flush()
            await session.exec(delete(Feedback).where(col(Feedback.id).in_(ids)))  # type: ignore[call-overload]
        return counts

    @staticmethod
    async def _drop_unsent(session: AsyncSession, delivery: Delivery) -> bool:
        """Delete a card not sent yet, unless the outbox worker claimed it since it was read (then False: it is
        being posted and is edited like a posted one)."""
        await session.exec(delete(Delivery).where(col(Delivery.parent_id) == delivery.id))  # type: ignore[call-overload]
        dropped = await session.exec(delete(Delivery).where(  # type: ignore[call-overload]
            col(Delivery.id) == delivery.id, col(Delivery.status).in_(("pending", "failed"))))
        if not dropped.rowcount:
            await session.refresh(delivery)
            return False
        session.expunge(delivery)
        return True

    async def _replace(self, session: AsyncSession, delivery: Delivery, card: Card) -> None:
        """Edit a posted card everywhere it is (through the outbox) and in every stored copy: the send itself
        and its earlier edits."""
        await self._outbox.update(session, delivery, card)
        delivery.card = card.to_json()
        session.add(delivery)
        await session.flush()
        await session.exec(update(Delivery).where(col(Delivery.parent_id) == delivery.id)  # type: ignore[call-overload]
                           .values(card=card.to_json()))

    @staticmethod
    async def _scrub_sandbox_message(session: AsyncSession, message_id: int) -> None:
        message = await session.get(SandboxMessage, message_id)
        if message is not None:
            message.card, message.edited = REMOVED_CARD.to_json(), True
            session.add(message)

    def _session(self, dry_run: bool) -> AbstractAsyncContextManager[AsyncSession]:
        """A dry run only reads: it scans without queueing behind the writers (votes) on SQLite's write lock."""
        return self._db.session() if dry_run else self._db.write()

    async def _scrub_quotes(self, quotes: list[str], dry_run: bool) -> Counter[str]:
        """Cards that quoted the items among others (roll-ups, digests) and sandbox messages of any card: the
        quotes are replaced by the removal notice, and posted ones edited through the outbox."""
        counts: Counter[str] = Counter()
        if not quotes:
            return counts
        last = 0
        while True:
            async with self._session(dry_run) as session:
                rows = list(await session.exec(select(Delivery).where(
                    col(Delivery.id) > last, or_(col(Delivery.subject_kind).is_(None),
                                                 Delivery.subject_kind != "feedback"))
                    .order_by(col(Delivery.id)).limit(SCAN_BATCH)))
                for delivery in rows:
                    scrubbed = without_quotes(delivery.card, quotes)
                    if scrubbed is None:
                        continue
                    counts["quoting_cards"] += delivery.kind == "send"  # an edit is its card's copy
                    if dry_run:
                        continue
                    if delivery.kind == "send" and delivery.status not in ("pending", "failed"):
                        await self._replace(session, delivery, Card.from_json(scrubbed))
                    else:
                        delivery.card = scrubbed
                        session.add(delivery)
                if not dry_run:
                    await session.commit()
            if len(rows) < SCAN_BATCH:
                break
            last = rows[-1].id or last
        counts["sandbox_messages"] += await self._scrub_sandbox_quotes(quotes, dry_run)
        return counts

    async def _scrub_sandbox_quotes(self, quotes: list[str], dry_run: bool) -> int:
        found = 0
        last = 0
        while True:
            async with self._session(dry_run) as session:
                rows = list(await session.exec(select(SandboxMessage).where(col(SandboxMessage.id) > last)
                                               .order_by(col(SandboxMessage.id)).limit(SCAN_BATCH)))
                for message in rows:
                    scrubbed = without_quotes(message.card, quotes)
                    if scrubbed is not None:
                        found += 1
                        if not dry_run:
                            message.card, message.edited = scrubbed, True
                            session.add(message)
                if not dry_run:
                    await session.commit()
            if len(rows) < SCAN_BATCH:
                return found
            last = rows[-1].id or last

    # -- people ------------------------------------------------------------------------------------
    async def erase_person(self, platform: str, user_id: str, *, actor: str, dry_run: bool = False,
                           workspace: str | None = None) -> Erasure:
        """Erase (or count) everything about one employee in one transaction; see the module's docstring.
        `workspace`: the chat workspace it was asked from, for the audit entry (bot.events.Event.workspace)."""
        erasure = Erasure(dry_run=dry_run)
        token = erased_token()
        key, token_key = f"{platform}:{user_id}", f"{platform}:{token}"
        exports = await self._exports(key)  # read before the write lock: file contents can be large
        dms = (f"{platform}:@{user_id}", f"{platform}:@{user_id}#edit")  # the outbox's pace keys of a DM to them
        async with self._db.write() as session:
            counts = erasure.counts
            changes: list[tuple[str, Any, tuple[Any, ...], dict[str, str] | None]] = [
                # kind, table, which rows are theirs, what they become (None: deleted)
                ("named_answers", Response, (Response.respondent_id == key,), None),
                ("reactions", FeedbackReaction, (FeedbackReaction.platform == platform,
                                                 FeedbackReaction.user_id == user_id), None),
                ("people", Person, (Person.platform == platform, Person.user_id == user_id), None),
                ("conversation_refs", ConversationRef, (ConversationRef.platform == platform,
                                                        ConversationRef.user_id == user_id), None),
                ("roles", RoleGrant, (RoleGrant.platform == platform, RoleGrant.user_id == user_id), None),
                ("participations", Participation, (Participation.platform == platform,
                                                   Participation.user_id == user_id), {"user_id": token}),
                ("claims", Claim, (Claim.platform == platform, Claim.user_id == user_id), {"user_id": token}),
                ("grants_given", RoleGrant, (RoleGrant.granted_by == key,), {"granted_by": token_key}),
                ("stations", Station, (Station.created_by == key,), {"created_by": token_key}),
                ("digest_subscriptions", DigestSubscription, (DigestSubscription.created_by == key,),
                 {"created_by": token_key}),
                ("pulses", Pulse, (Pulse.platform == platform, Pulse.author_id == user_id), {"author_id": token}),
                ("queued_by_them", Delivery, (Delivery.created_by == key, col(Delivery.pace_key).not_in(dms)),
                 {"created_by": token_key}),
            ]
            if platform == "slack":
                changes.append(("slack_records", SlackConversationTeam,
                                (SlackConversationTeam.conversation_id == user_id,), None))
            if platform == SANDBOX:
                changes.append(("sandbox_members", SandboxMember, (SandboxMember.user_id == user_id,), None))
                changes.append(("sandbox_messages", SandboxMessage, (SandboxMessage.author_id == user_id,), None))
            refresh = set(await session.exec(select(FeedbackReaction.feedback_id).where(
                FeedbackReaction.platform == platform, FeedbackReaction.user_id == user_id)))
            refresh.update(await session.exec(select(Claim.feedback_id).where(
                Claim.platform == platform, Claim.user_id == user_id)))
            counts["sealed_waiting"] = (await session.exec(
                select(func.count()).select_from(Participation).where(
                    Participation.platform == platform, Participation.user_id == user_id,
                    col(Participation.sealed).is_not(None)))).one()
            counts.update(await self._engagement(session, platform, user_id, token, dry_run))
            counts.update(await self._direct_messages(session, platform, user_id, dms, dry_run))
            counts["results_cards"], commented = await self._results_cards(session, key, dry_run)  # before they go
            counts["exports"] = len(exports)
            counts["audiences"] = await self._audiences(session, platform, user_id, token, dry_run)
            if exports and not dry_run:
                await self._remove_exports(session, exports)
            for kind, table, where, values in changes:
                counts[kind] += (await session.exec(select(func.count()).select_from(table).where(*where))).one()
                if dry_run or not counts[kind]:
                    continue
                if values is None:
                    await session.exec(delete(table).where(*where))  # type: ignore[call-overload]
                else:
                    await session.exec(update(table).where(*where).values(**values))  # type: ignore[call-overload]
            if not dry_run:
                await self._redraw(session, commented)
                for feedback_id in sorted(refresh):
                    await refresh_cards(session, self._outbox, self._redact, feedback_id)
                await record(session, self._keys, actor=actor, action="erase.person", subject=key,
                             details=erasure.details(), workspace=workspace)
                await session.commit()
        if not dry_run:
            erasure.flushed = await flush_deleted(self._db)  # no frame of the old pages left in SQLite's WAL
        return erasure

    async def _results_cards(self, session: AsyncSession, key: str, dry_run: bool) -> tuple[int, set[int]]:
        """The final results cards of the runs they commented on (a named pulse's, for its author and channel)
        lose those comments' lines, in every stored copy and, once posted, through the outbox; their other
        figures stay as posted. Returns how many, and the runs (whose live cards _redraw draws again)."""
        said: dict[int, set[str]] = {}
        for run_id, comment in (await session.exec(select(Response.run_id, Response.comment).where(
                Response.respondent_id == key, col(Response.comment).is_not(None)))).all():
            said.setdefault(run_id, set()).add(f"“{comment}”")
        by_key = {card_key: lines for run_id, lines in said.items() for card_key in (
            f"pulse-final:{run_id}:author", f"pulse-final:{run_id}:channel")}
        live = [f"pulse-results:{run_id}" for run_id in said] + [f"pulse:{run_id}:channel" for run_id in said]
        found = (await session.exec(select(func.count()).select_from(Delivery).where(
            col(Delivery.dedupe_key).in_(live), Delivery.kind == "send"))).one() if said else 0
        for send in list(await session.exec(select(Delivery).where(
                col(Delivery.dedupe_key).in_(sorted(by_key)), Delivery.kind == "send").order_by(col(Delivery.id)))):
            copies = [send, *await session.exec(select(Delivery).where(Delivery.parent_id == send.id)
                                                .order_by(col(Delivery.id)))]
            scrubbed = [without_lines(copy.card, by_key[send.dedupe_key]) for copy in copies]
            if all(card is None for card in scrubbed):
                continue
            found += 1
            if dry_run:
                continue
            for copy, card in zip(copies, scrubbed, strict=True):
                if card is not None:
                    copy.card = card
                    session.add(copy)
            await session.flush()
            if send.status not in ("pending", "failed"):
                await self._outbox.update(session, send, Card.from_json(copies[-1].card))
        return found, set(said)

    async def _redraw(self, session: AsyncSession, runs: set[int]) -> None:
        """The runs' question cards, and the author's live results of open ones, drawn again from the answers left
        (as bot.pulses.service.Pulses.refresh does): what was posted last lives only on the platform."""
        settings = self._settings
        for run_id in sorted(runs):
            run = await session.get(PulseRun, run_id)
            pulse = await session.get(Pulse, run.pulse_id) if run is not None else None
            if run is None or pulse is None:
                continue
            questions = list(await session.exec(select(Question).where(Question.pulse_id == pulse.id)
                                                .order_by(col(Question.position))))
            results = await run_results(session, settings, pulse, run, questions, run.audience_size)
            shown = results if pulse.results_live or run.status == "closed" else None
            channel = await self._outbox.by_key(session, f"pulse:{run_id}:channel")
            if channel is not None:
                await self._outbox.update(session, channel, question_card(
                    pulse, run, questions, shown, run_minimum(run, settings), settings.comment_min))
            live = await self._outbox.by_key(session, f"pulse-results:{run_id}")
            if live is not None and run.status == "open":
                await self._outbox.update(session, live, results_card(results, final=False))

    @staticmethod
    async def _audiences(session: AsyncSession, platform: str, user_id: str, token: str, dry_run: bool) -> int:
        """Pulses asked of a list of people that named them: the token takes their place (the count stays)."""
        found = 0
        for pulse_id, audience in (await session.exec(select(Pulse.id, Pulse.audience).where(
                Pulse.platform == platform))).all():
            users = audience.get("users") if isinstance(audience, dict) else None
            if not isinstance(users, list) or user_id not in users:
                continue
            found += 1
            if not dry_run:
                await session.exec(update(Pulse).where(col(Pulse.id) == pulse_id).values(  # type: ignore[call-overload]
                    audience={**audience, "users": [token if user == user_id else user for user in users]}))
        return found

    async def _exports(self, key: str) -> list[str]:
        """The stored CSV exports (bot.pulses.commands: a named pulse's, sent to whoever asked) with a row of the
        person's (its `person` column holds `platform:user_id`)."""
        found: list[str] = []
        last = ""
        async with self._db.session() as session:
            while True:
                rows = (await session.exec(select(StoredFile.id, StoredFile.data).where(
                    StoredFile.mime == CSV_MIME, col(StoredFile.id) > last).order_by(col(StoredFile.id))
                    .limit(EXPORTS_PER_READ))).all()
                if not rows:
                    return found
                found.extend(file for file, data in rows if _holds_person(data, key))
                last = rows[-1][0]

    async def _remove_exports(self, session: AsyncSession, exports: list[str]) -> None:
        """Delete the files, and say so where a card offered one (edited through the outbox once posted)."""
        await session.exec(delete(StoredFile).where(col(StoredFile.id).in_(exports)))  # type: ignore[call-overload]
        gone = {f"{SCHEME}{file}" for file in exports}
        offering = list(await session.exec(select(Delivery).where(or_(*(
            cast(Delivery.card, String).like(f"%{url}%") for url in sorted(gone)))).order_by(col(Delivery.id))))
        for delivery in offering:
            blocks = delivery.card.get("blocks") or []
            card = {**delivery.card, "blocks": [{"type": "text", "text": EXPORT_REMOVED}
                                                if isinstance(b, dict) and b.get("url") in gone else b
                                                for b in blocks]}
            if delivery.kind == "send" and delivery.status not in ("pending", "failed"):
                await self._replace(session, delivery, Card.from_json(card))
            else:  # not posted yet, or an edit of a posted one
                delivery.card = card
                session.add(delivery)

    @staticmethod
    async def _engagement(session: AsyncSession, platform: str, user_id: str, token: str,
                          dry_run: bool) -> Counter[str]:
        """Kept for the digest's counts under the token; the words of their thread replies go, and so does the
        platform's event id in the row's key."""
        theirs = (col(Engagement.platform) == platform, col(Engagement.user_id) == user_id)
        counts: Counter[str] = Counter()
        counts["engagement"] = (await session.exec(
            select(func.count()).select_from(Engagement).where(*theirs))).one()
        counts["comment_texts"] = (await session.exec(select(func.count()).select_from(Engagement).where(
            *theirs, Engagement.kind == "comment", col(Engagement.value).is_not(None)))).one()
        if not dry_run and counts["engagement"]:
            await session.exec(update(Engagement).where(  # type: ignore[call-overload]
                *theirs, Engagement.kind == "comment").values(value=None))
            await session.exec(update(Engagement).where(*theirs).values(  # type: ignore[call-overload]
                user_id=token, event_key=literal(f"{token}:") + cast(col(Engagement.id), String)))
        return counts

    @staticmethod
    async def _direct_messages(session: AsyncSession, platform: str, user_id: str, dms: tuple[str, str],
                               dry_run: bool) -> Counter[str]:
        """Messages the bot sent (or meant to send) them, the files attached to them (pulse exports), and in the
        sandbox, which plays the platform, their direct-message conversation with the bot."""
        rows = list(await session.exec(select(Delivery.id, Delivery.card, Delivery.message_channel).where(
            col(Delivery.pace_key).in_(dms))))
        files = {found for _, card, _ in rows for found in _files(card)}
        counts = Counter({"direct_messages": len(rows)})
        counts["files"] = (await session.exec(select(func.count()).select_from(StoredFile).where(
            col(StoredFile.id).in_(files)))).one() if files else 0
        conversations = {channel for _, _, channel in rows if channel} if platform == SANDBOX else set()
        dm = select(SandboxChannel.id).where(col(SandboxChannel.id).in_(conversations), SandboxChannel.kind == "dm")
        bots = (col(SandboxMessage.channel_id).in_(dm), col(SandboxMessage.author_id) != user_id)  # theirs: below
        if conversations:
            counts["sandbox_messages"] += (await session.exec(select(func.count()).select_from(SandboxMessage).where(
                *bots))).one()
        if dry_run or not rows:
            return counts
        ids = [i for i, _, _ in rows]
        await session.exec(update(Delivery).where(col(Delivery.parent_id).in_(ids))  # type: ignore[call-overload]
                           .values(parent_id=None))  # an edit of a DM is one of `rows` itself (its pace key)
        await session.exec(delete(Delivery).where(col(Delivery.id).in_(ids)))  # type: ignore[call-overload]
        if files:
            await session.exec(delete(StoredFile).where(col(StoredFile.id).in_(files)))  # type: ignore[call-overload]
        if conversations:
            await session.exec(delete(SandboxMessage).where(*bots))  # type: ignore[call-overload]
            await session.exec(delete(SandboxMember).where(  # type: ignore[call-overload]
                col(SandboxMember.channel_id).in_(dm)))
            await session.exec(delete(SandboxChannel).where(  # type: ignore[call-overload]
                col(SandboxChannel.id).in_(conversations), SandboxChannel.kind == "dm"))
        return counts


def _email_of(details: object) -> str | None:
    if isinstance(details, dict) and isinstance(email := details.get("email"), str):
        return normal_email(email)
    return None


def _holds_person(data: bytes, key: str) -> bool:
    try:
        rows = read_csv(data)
    except (UnicodeDecodeError, csv.Error):
        return False
    if not rows or "person" not in rows[0]:
        return False
    column = rows[0].index("person")
    return any(len(row) > column and row[column] == key for row in rows[1:])


def _files(card: dict[str, Any]) -> Iterable[str]:
    for block in card.get("blocks", ()):
        if isinstance(block, dict) and block.get("type") == "file" and (found := file_id(str(block.get("url")))):
            yield found


def quotes_one_of(block: dict[str, Any], quotes: list[str]) -> bool:
    """Whether a card's quote block shows one of `quotes` (whole, or cut with "…")."""
    text = str(block.get("text") or "")
    more = block.get("more")
    shown = (text.removesuffix("…") + more) if isinstance(more, str) else text
    head = shown.removesuffix("…").rstrip()
    if not head:
        return False
    return any(quote == shown or (shown.endswith("…") and quote.startswith(head)) for quote in quotes)


def without_lines(card: dict[str, Any], lines: set[str]) -> dict[str, Any] | None:
    """`card` with the text lines of `lines` left out (a note says so in their place), or None if it has none."""
    changed = False
    blocks = []
    for block in card.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            kept = [line for line in block["text"].split("\n") if line not in lines]
            if len(kept) < block["text"].count("\n") + 1:
                changed = True
                block = {**block, "text": "\n".join([*kept, COMMENT_REMOVED])}
        blocks.append(block)
    return {**card, "blocks": blocks} if changed else None


def without_quotes(card: dict[str, Any], quotes: list[str]) -> dict[str, Any] | None:
    """`card` (as stored) with the quotes of `quotes` replaced by the removal notice, or None if it has none."""
    blocks = card.get("blocks") or []
    if not any(isinstance(b, dict) and b.get("type") == "quote" and quotes_one_of(b, quotes) for b in blocks):
        return None
    return {**card, "blocks": [{"type": "text", "text": REMOVED}
                               if isinstance(b, dict) and b.get("type") == "quote" and quotes_one_of(b, quotes)
                               else b for b in blocks]}
