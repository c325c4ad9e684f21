"""`/earshot erase customer …` and `/earshot erase person …`: erasure on request in chat, for admins.

The command answers privately with what would go (the dry run) and a Confirm / Cancel pair. The request rides in
the Confirm button's value, sealed (encrypted and authenticated) with a key kept outside the database, so the
platform's copy of the card never shows the e-mail address, and bound to the admin who asked and to a time
limit: nothing is stored until they confirm, a press by anyone else (or a forged or stale value) erases nothing,
and the erasure itself runs as the command line's does (bot.governance.erasure)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.adapter import Responder
from bot.cards import Block, Button, Buttons, Card, Context, Heading, Text
from bot.commands import Command, UsageError, error_card
from bot.core import Earshot, Services
from bot.events import ActionEvent, CommandEvent, Event, Person
from bot.governance.erasure import ANONYMOUS_NOTE, Customer, Eraser, Erasure, parse_person
from bot.roles import has_any_role
from storage.secrets import SecretBox, SecretKeyError

CONFIRM_WITHIN = timedelta(minutes=5)
PURPOSE = "erase confirmations"
"""The purpose the Confirm button's value is sealed for (storage.secrets.SecretBox)."""
USAGE = "customer --email ADDRESS | customer --source S --id I | person platform:user_id (or a mention)"


def add_erase_command(command: Command, core: Earshot) -> None:
    services = core.services
    eraser = Eraser(services.db, services.outbox, services.keys, services.settings)

    @command.add("erase", USAGE, "erase a customer's feedback or an employee's data, on request (admins)")
    async def erase(event: CommandEvent, words: list[str], responder: Responder) -> None:
        if not await _admin_or_refuse(services, event.actor, responder):
            return
        request = parse_request(words, event.platform)
        erasure = await _run(eraser, request, event, dry_run=True)
        if erasure.empty:
            await responder.private(_card("Nothing to erase", erasure, _nothing(request), request))
            return
        value = seal(services, request, event.actor, services.clock() + CONFIRM_WITHIN)
        card = _card("Erase this? (dry run: nothing changed yet)", erasure, None, request)
        await responder.private(Card(fallback=card.fallback, blocks=(*card.blocks, Buttons((
            Button("erase:confirm", "Erase", value, style="danger"), Button("erase:cancel", "Cancel", "cancel"))),
            Context((f"Only you can confirm, within {int(CONFIRM_WITHIN.total_seconds() // 60)} minutes. The "
                     "erasure is recorded in the audit log, with counts only.",)))))

    async def on_action(event: ActionEvent, responder: Responder) -> None:
        if event.action_id == "erase:cancel":
            await responder.private(Card(fallback="Cancelled: nothing was erased.",
                                         blocks=(Text("Cancelled: nothing was erased."),)))
            return
        if event.action_id != "erase:confirm" or not isinstance(event.value, str):
            await responder.private(error_card("That button no longer does anything."))
            return
        request, problem = verify(services, event.value, event.actor)
        if request is None:
            await responder.private(error_card(problem, hint="Run /earshot erase again to get a new confirmation."))
            return
        if not await _admin_or_refuse(services, event.actor, responder):
            return
        erasure = await _run(eraser, request, event, dry_run=False)
        title = "Erased" if not erasure.empty else "Nothing left to erase"
        await responder.private(_card(title, erasure, None if not erasure.empty else _nothing(request), request))

    core.handlers.actions["erase"] = on_action


def parse_request(words: list[str], platform: str) -> dict[str, str]:
    """The erasure asked for, as the button will carry it; UsageError for anything else."""
    match words:
        case ["customer", "--email", email]:
            request = {"kind": "customer", "email": email}
        case ["customer", "--source", source, "--id", external_id] | ["customer", "--id", external_id,
                                                                      "--source", source]:
            request = {"kind": "customer", "source": source, "id": external_id}
        case ["person", who]:
            try:
                person_platform, user_id = parse_person(who, platform)
            except ValueError as error:
                raise UsageError(str(error)) from None
            if person_platform != platform:
                raise UsageError(f"erase {person_platform} people from {person_platform} or with `earshot erase "
                                 "person` on the server")
            request = {"kind": "person", "platform": person_platform, "user": user_id}
        case _:
            raise UsageError(f"/earshot erase {USAGE}")
    if request["kind"] == "customer":
        _customer(request)  # refuses a malformed address or id now, not at the button
    return request


def seal(services: Services, request: dict[str, str], actor: Person, until: Any) -> str:
    body = json.dumps({**request, "by": actor.key, "until": int(until.timestamp())}, separators=(",", ":"),
                      ensure_ascii=False, sort_keys=True)
    return SecretBox(services.keys, PURPOSE).seal_bytes(body.encode(), at=0)  # its time limit is inside


def verify(services: Services, value: str, actor: Person) -> tuple[dict[str, str] | None, str]:
    """The request a Confirm button carries, or None and why it is refused: a value the server did not seal, a
    press by someone other than the admin who asked, or one after the time limit."""
    try:
        data = json.loads(SecretBox(services.keys, PURPOSE).open(value))
    except (SecretKeyError, ValueError):
        return None, "This confirmation isn't one I made."
    if not isinstance(data, dict):
        return None, "This confirmation isn't one I made."
    if data.get("by") != actor.key:
        return None, "Only the admin who asked for this erasure can confirm it."
    if services.clock().timestamp() > data.get("until", 0):
        return None, f"This confirmation has expired (they last {int(CONFIRM_WITHIN.total_seconds() // 60)} minutes)."
    return {k: v for k, v in data.items() if k not in ("by", "until")}, ""


async def _admin_or_refuse(services: Services, actor: Person, responder: Responder) -> bool:
    async with services.db.session() as session:
        allowed = await has_any_role(session, actor)  # admins alone: no other role is enough
    if not allowed:
        await responder.private(error_card(
            "Only admins can erase data: an erasure removes feedback or a colleague's records for good.",
            hint="An admin can do it, or run `earshot erase …` on the server."))
    return allowed


async def _run(eraser: Eraser, request: dict[str, str], event: Event, *, dry_run: bool) -> Erasure:
    if request["kind"] == "person":
        return await eraser.erase_person(request["platform"], request["user"], actor=event.actor.key,
                                         dry_run=dry_run, workspace=event.workspace)
    return await eraser.erase_customer(_customer(request), actor=event.actor.key, dry_run=dry_run,
                                       workspace=event.workspace)


def _customer(request: dict[str, str]) -> Customer:
    try:
        return Customer(email=request.get("email"), source=request.get("source"), external_id=request.get("id"))
    except ValueError as error:
        raise UsageError(str(error)) from None


def _nothing(request: dict[str, str]) -> str:
    if request["kind"] == "person":
        return f"Nothing about {request['platform']}:{request['user']} is stored."
    return "No feedback from this customer is stored."


def _card(title: str, erasure: Erasure, nothing: str | None, request: dict[str, str]) -> Card:
    blocks: list[Block] = [Heading(title), Text(nothing or "\n".join(f"• {line}" for line in erasure.lines()))]
    if request["kind"] == "person":
        blocks.append(Context((ANONYMOUS_NOTE,)))
    return Card(fallback=f"{title}: " + (nothing or "; ".join(erasure.lines())), blocks=tuple(blocks))
