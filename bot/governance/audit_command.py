"""`/earshot audit [since] [who] [action:PREFIX] [before:ID]`: the latest audit entries, privately, for HR and
admins. A chat sees only entries by or about its own platform's people (`slack:…` in Slack) recorded in its own
workspace (where one platform serves several, entries recorded without a workspace never show); the rest, and
every entry at once, is the command line's (`earshot audit --format csv`). Each reading is itself recorded."""

from __future__ import annotations

import re

from bot.adapter import Responder
from bot.cards import Card, Context, Heading, Text
from bot.commands import Command, UsageError, record_id
from bot.core import Services
from bot.events import CommandEvent
from bot.governance.audit import Query, check_action_prefix, check_who, entries, parse_since, record
from bot.roles import has_any_role
from storage.tables.audit import AuditEntry

READERS = ("hr",)  # admins hold every role
SHOWN = 20
MENTION = re.compile(r"<@([A-Za-z0-9]+)(\|[^>]*)?>")
USAGE = "[since: 7d or YYYY-MM-DD] [who: platform:user_id] [action:PREFIX] [before:ID]"


def add_audit_command(command: Command, services: Services) -> None:
    @command.add("audit", USAGE, f"the latest {SHOWN} audit log entries: who read, exported or changed people data")
    async def audit(event: CommandEvent, words: list[str], responder: Responder) -> None:
        query = _query(event, words)
        async with services.db.session() as session:
            allowed = await has_any_role(session, event.actor, *READERS)
        if not allowed:
            await responder.private(Card(
                fallback="Only HR and admins can read the audit log.",
                blocks=(Text("🙏 Sorry — only people with the HR or admin role can read the audit log: it says who "
                             "read, exported or changed people data, so it is kept to them."),
                        Context(("An admin can grant the role with `earshot roles grant <platform:user_id> hr`.",)))))
            return
        async with services.db.session() as session:
            shown = [entry async for entry in entries(session, query, newest_first=True, limit=SHOWN)]
        async with services.db.write() as session:  # recorded before it is shown
            await record(session, services.keys, actor=event.actor.key, action="audit.read", subject="audit_log",
                         workspace=event.workspace,
                         details={"format": "card", "since": query.since.isoformat() if query.since else None,
                                  "who": query.who, "action": query.action, "before": query.before})
            await session.commit()
        await responder.private(_card(shown, query))


def _query(event: CommandEvent, words: list[str]) -> Query:
    """The filters, in any order; a mention stands for that person."""
    fields: dict[str, object] = {"platform": event.platform, "workspace": event.workspace}
    try:
        for word in words:
            lowered = word.lower()
            mention = MENTION.fullmatch(word)
            if lowered.startswith("before:"):
                fields["before"] = record_id(word[7:])
                if fields["before"] is None:
                    raise ValueError(f"“{word[:40]}” is not before: and an entry number")
            elif lowered.startswith("action:"):
                fields["action"] = check_action_prefix(lowered[7:])
            elif mention:
                fields["who"] = f"{event.platform}:{mention.group(1)}"
            elif ":" in word:
                fields["who"] = check_who(word)
            else:
                fields["since"] = parse_since(word)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return Query(**fields)  # type: ignore[arg-type]


def _card(shown: list[AuditEntry], query: Query) -> Card:
    if not shown:
        text = "No audit log entries match." if (query.since or query.who or query.action or query.before) \
            else "The audit log has no entries yet."
        return Card(fallback=text, blocks=(Text(text),))
    heading = f"Audit log — the latest {len(shown)} entries, newest first"
    lines = [_line(entry) for entry in shown]
    hints = ["Filter: /earshot audit 7d slack:U0123ABC action:pulse.  ·  The command line exports every entry: "
             "`earshot audit --format csv` (or json), and `earshot audit verify` checks nothing was altered."]
    if len(shown) == SHOWN:
        hints.insert(0, f"Older entries: /earshot audit before:{shown[-1].id} (with the same filters).")
    return Card(fallback=heading + "\n" + "\n".join(lines),
                blocks=(Heading(heading), *(Text(line) for line in lines), Context(tuple(hints))))


def _line(entry: AuditEntry) -> str:
    details: object = entry.details
    facts = ", ".join(f"{name}={value}" for name, value in sorted(details.items()) if value is not None) \
        if isinstance(details, dict) else "⚠ details altered (`earshot audit verify` reports the entry)"
    parts = [f"#{entry.id}", f"{entry.at:%Y-%m-%d %H:%M} UTC", entry.actor, entry.action, entry.subject, facts]
    return " · ".join(part for part in parts if part)
