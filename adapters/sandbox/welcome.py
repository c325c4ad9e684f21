"""Earshot's first words in the sandbox, as a real bot greets a workspace it joins: a welcome DM to each person
(who they are, what Earshot does, that "You are" switches person, what to try) and a first message in #general.
Each is posted once: a DM or #general that already holds a message is left alone, so restarts repeat nothing."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import select

from adapters.sandbox.workspace import BOT_ID, PLATFORM, Workspace, dm_channel_id, role_label
from bot.cards import Block, Card, Context, Heading, Text
from storage.engine import Database
from storage.tables import Person, RoleGrant, SandboxMessage

GENERAL = "C-general"

WHAT = ("Earshot brings what customers say into your team's channels: quote cards in #cx-feedback that you can "
        "react to, claim (“I'll follow up”) and discuss in a thread. It also asks the team short pulse questions, "
        "anonymous by default, and sends HR a weekly digest of both. Results, charts and exports arrive here, "
        "in this DM.")

ROLE_CAN = {
    "employee": "you can react to customer cards, follow them up and answer pulses",
    "manager": "you can also start pulses (a bare /pulse opens a form) and subscribe channels to customer "
               "feedback (/station add)",
    "hr": "you can also read pulse results and the weekly digest (/digest preview)",
    "admin": "you can do everything: pulses, stations, digests, closing anyone's pulse, and erasing people data "
             "on request (/earshot)",
}

TRY = {  # what each role can run at once, most telling first
    "employee": ("/pulse help — what pulses are and how to answer them",
                 "/station list — what feeds this channel",
                 "/station preview — what the last week would have sent here",
                 "/digest help — the weekly digest"),
    "manager": ("/pulse — start a pulse with a form",
                "/pulse template wellbeing — a ready-made question",
                "/station add nps:detractor — unhappy customers, live in a channel",
                "/pulse help — everything else"),
    "hr": ("/digest preview — this week's digest, only for you",
           "/pulse list — the open pulses of a channel",
           "/pulse results — a pulse's results, within the anonymity minimum",
           "/digest help — subscribing a channel to the digest",
           "/earshot audit — who read, exported or changed people data"),
    "admin": ("/pulse — start a pulse with a form",
              "/station add all — every customer voice, live in a channel",
              "/digest preview — this week's digest, only for you",
              "/earshot help — retention, erasure on request, the audit log",
              "/pulse help, /station help, /digest help — everything else"),
}

ARTICLE = {"employee": "an employee", "manager": "a manager", "hr": "in HR", "admin": "an admin"}


async def welcome(db: Database, workspace: Workspace) -> None:
    """Post the welcome DMs and #general's first message where they haven't been posted yet."""
    async with db.session() as session:
        people = list(await session.exec(select(Person).where(Person.platform == PLATFORM).order_by(Person.id)))
        held: dict[str, set[str]] = defaultdict(set)
        for grant in await session.exec(select(RoleGrant).where(RoleGrant.platform == PLATFORM)):
            held[grant.user_id].add(grant.role)
    roles = {p.user_id: role_label(held[p.user_id]) for p in people}
    names = {p.user_id: p.display_name or p.user_id for p in people}
    if await workspace.channel(GENERAL) is not None and await _empty(db, GENERAL):
        await workspace.post(GENERAL, BOT_ID, general_card())
    for user_id in names:
        channel_id = dm_channel_id(user_id)
        if await workspace.channel(channel_id) is None or await _empty(db, channel_id):
            await workspace.open_dm(user_id)
            await workspace.post(channel_id, BOT_ID, welcome_card(user_id, names, roles))


async def _empty(db: Database, channel_id: str) -> bool:
    async with db.session() as session:
        found = await session.exec(select(SandboxMessage.id).where(SandboxMessage.channel_id == channel_id).limit(1))
        return found.first() is None


def general_card() -> Card:
    text = ("Hello everyone 👋 I'm Earshot. Customer feedback arrives live in #cx-feedback (and, filtered to what "
            "each team works on, in its own channel); pulses your managers start are answered right in the channel. "
            "Type /pulse help, /station help or /digest help here to see what I can do.")
    return Card(fallback=text, blocks=(Text(text),))


def welcome_card(user_id: str, names: dict[str, str], roles: dict[str, str]) -> Card:
    """The first DM `user_id` gets: who they are, what Earshot does, the person switcher, commands to try."""
    name, role = names[user_id], roles[user_id]
    first = name.split()[0]
    first_of: dict[str, str] = {}  # one person to try per role: the first who holds it
    for other, held in roles.items():
        if held != "employee" and other != user_id:
            first_of.setdefault(held, other)
    others = [f"{names[u]} ({'HR' if r == 'hr' else r})" for r, u in sorted(first_of.items(), key=_by_rank)]
    switch = ("Switch person with “You are” at the top left (on a phone, under Channels) to unlock the manager, "
              "HR and admin features"
              + (f": {', '.join(others)}." if others else "."))
    blocks: list[Block] = [
        Heading(f"👋 Welcome to Earshot, {first}"),
        Text(f"You are {name}, {ARTICLE.get(role, role)}: {ROLE_CAN.get(role, ROLE_CAN['employee'])}. "
             "This is a sandbox workspace: everyone in it is a demo person, and nothing leaves this computer."),
        Text(WHAT),
        Text(switch),
        Text("Try:\n" + "\n".join(f"• {line}" for line in TRY.get(role, TRY["employee"]))),
        Context(("Type a command in the message box below, in any channel.",)),
    ]
    return Card(fallback=f"Welcome to Earshot, {first}: you are {name}, {ARTICLE.get(role, role)}.",
                blocks=tuple(blocks))


def _by_rank(pair: tuple[str, str]) -> int:
    return ("manager", "hr", "admin").index(pair[0]) if pair[0] in ("manager", "hr", "admin") else 3
