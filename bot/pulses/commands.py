"""`/pulse`: the creation form, the one-line syntax, templates, list, results, close, export."""

from __future__ import annotations

import asyncio
import unicodedata

from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import DeliveryError, Responder
from bot.cards import Block, Button, Buttons, Card, Context, File, FormErrors, Heading, Text, text_card
from bot.commands import Command, UsageError, channel_of, error_card, record_id
from bot.core import Services
from bot.events import ActionEvent, CommandEvent, FormSubmitted, Person, Target
from bot.files import save_file
from bot.governance.audit import record
from bot.pulses.audience import UNKNOWN_NAMED, PersonLookup, channel_member_ids, strangers, unknown_people
from bot.pulses.cards import results_card
from bot.pulses.form import creation_form, spec_from_form
from bot.pulses.questions import label_of, score_of
from bot.pulses.results import run_number
from bot.pulses.schedule import describe
from bot.pulses.service import Pulses
from bot.pulses.spec import ONE_LINE_HELP, PulseSpec, from_template, parse_one_line, words_of, zone_name
from bot.pulses.templates import TEMPLATES
from bot.roles import has_any_role
from bot.spreadsheet import MIME, Cell, csv_bytes, read_csv
from storage.tables import Participation, Pulse, PulseRun, Response
from storage.tables import Person as PersonRow

CLOSE_LISTED = 10
"""Open pulses a close lists to pick from (a manager rarely has more than a few in one channel)."""
ZONE_LOOKUP_SECONDS = 1.0
"""How long the form waits to learn the asker's timezone from the platform: Slack drops a form's trigger after
3 seconds."""


class PulseCommands:
    def __init__(self, services: Services, pulses: Pulses) -> None:
        self._services = services
        self._pulses = pulses
        self._subcommands: tuple[str, ...] = ()

    def command(self) -> Command:
        command = Command("pulse", "short polls for your team", default=self.launch_or_form,
                          notes=(ONE_LINE_HELP.replace("\n", " · "),))
        command.add("template", "NAME [options]", "start from the question bank (/pulse templates lists it)")(
            self.template)
        command.add("templates", "", "the question bank")(self.templates)
        command.add("list", "", "open pulses in this channel")(self.list)
        command.add("results", "[id]", "results of a pulse (its latest run)")(self.results)
        command.add("close", "[id]", "close a pulse, once you confirm (no id: your open ones here)")(self.close)
        command.add("export", "[id]", "answers as a CSV file by DM (no names if anonymous)")(self.export)
        self._subcommands = tuple(command.subcommands)
        return command

    # -- launching -------------------------------------------------------------------------------
    async def launch_or_form(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        if not await self._may_launch(event, responder):
            return
        if not words:
            await responder.open_form(creation_form(self._channel(event), await self._own_zone(event)))
            return
        spec = parse_one_line(words_of(event.text), self._channel(event), self._services.settings.timezone,
                              self._services.clock().date(), subcommands=self._subcommands)
        await self._launch(event, spec, responder)

    async def template(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        if not words:
            raise UsageError("name a template: " + ", ".join(TEMPLATES))
        if not await self._may_launch(event, responder):
            return
        spec = from_template(words[0].lower(), words[1:], self._channel(event), self._services.settings.timezone,
                             self._services.clock().date())
        await self._launch(event, spec, responder)

    async def templates(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        lines = [f"{name} — {title}: " + " / ".join(q.prompt for q in questions)
                 for name, (title, questions) in TEMPLATES.items()]
        await responder.private(Card(fallback="\n".join(lines), blocks=(
            Heading("The question bank"), Text("\n".join(lines)),
            Context(("/pulse template enps to:dm every:fri@16:00 (anonymous unless you add named)",)))))

    async def _launch(self, event: CommandEvent, spec: PulseSpec, responder: Responder,
                      trusted_channel: bool = True) -> None:
        await self._may_reach(event, spec, trusted_channel)
        await self._are_people(event, spec)
        try:
            pulse, run = await self._pulses.launch(spec, event.actor, self._channel(event), event.workspace)
        except DeliveryError as error:  # the audience could not be read: nothing was stored
            raise UsageError(f"I couldn't get the audience from {event.platform.title()} just now ({error.reason}), "
                             "so nothing was launched. Please try again in a minute.") from None
        when = "now" if run is not None else describe(pulse.recurrence, pulse.timezone,
                                                      bool((pulse.recurrence or {}).get("local")))
        who = {"channel": "this channel" if spec.audience.get("channel_id") == event.channel_id else "that channel",
               "dm": "a DM to each member of this channel",
               "people": _people_count(len(spec.audience.get("users", [])))}[spec.audience["kind"]]
        text = f"📊 Pulse #{pulse.id} “{pulse.title}” goes to {who}, {when}."
        await responder.private(Card(fallback=text, blocks=(
            Text(text),
            Context((("🔒 anonymous (the default; say named to see who answered what)" if pulse.anonymous
                      else "👤 named: you and HR see who answered what") + " · " +
                     ("live results" if pulse.results_live else "results at close") +
                     " · /pulse results " + str(pulse.id) + " · /pulse close " + str(pulse.id),)))))

    async def on_form(self, event: FormSubmitted, responder: Responder) -> FormErrors | None:
        """The form names its channel in its metadata, which comes back from the client (Teams card data, the
        sandbox): it is checked as a `to:#channel` would be, never trusted as the channel typed in."""
        channel = event.metadata or event.channel_id or ""
        if not channel:
            return {"_": "This form has expired; please open it again with /pulse in a channel."}
        spec, errors = spec_from_form(event.values, channel, self._services.settings.timezone,
                                      self._services.clock().date())
        if errors:
            return errors
        synthetic = CommandEvent(platform=event.platform, event_id=event.event_id, actor=event.actor,
                                 channel_id=channel, command="pulse", text="", workspace=event.workspace)
        if not await self._may_launch(synthetic, responder):
            return {"title": "Only managers and admins can launch pulses."}
        try:
            await self._launch(synthetic, spec, responder, trusted_channel=False)
        except UsageError as error:
            return {"audience": str(error)}
        return None

    # -- reading and closing ---------------------------------------------------------------------
    async def list(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        async with self._services.db.session() as session:
            rows = list(await session.exec(
                select(Pulse).where(Pulse.platform == event.platform, Pulse.channel_id == self._channel(event),
                                    col(Pulse.workspace).is_not_distinct_from(event.workspace),
                                    Pulse.status == "active").order_by(col(Pulse.id).desc()).limit(20)))
        if not rows:
            await responder.private(Card(fallback="No open pulses here.", blocks=(
                Text("No open pulses in this channel."), Context(("/pulse launches one.",)))))
            return
        lines = [f"#{p.id} “{p.title}” — {describe(p.recurrence, p.timezone, bool((p.recurrence or {}).get('local')))}"
                 f"{' · anonymous' if p.anonymous else ''}" for p in rows]
        await responder.private(Card(fallback="\n".join(lines), blocks=(Heading("Open pulses here"),
                                                                         Text("\n".join(lines)))))

    async def results(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        pulse, run = await self._find(event, words)
        await self._may_read(event.actor, pulse)
        run = await self._shown_run(pulse, run)
        async with self._services.db.session() as session:
            questions = await self._pulses.questions(session, pulse.id or 0)
            results = await self._pulses.results(session, pulse, run, questions)
            trend, trend_chart = await self._pulses.trend(session, pulse, questions)  # a recurring pulse's runs
            await record(session, self._services.keys, actor=event.actor.key, action="pulse.results_viewed",
                         subject=f"pulse:{pulse.id}", details={"run": run.id}, workspace=event.workspace)
            await session.commit()
        await responder.private(results_card(results, final=run.status == "closed", trend=trend,
                                             trend_chart=trend_chart))

    async def close(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        """Never closes on one word: the pulse named (or the caller's only open one here) gets a card to confirm,
        several get a list to pick from. `/pulse close ID now` closes at once, for where buttons can't be pressed."""
        now = len(words) == 2 and words[1].lower() == "now"
        if len(words) > 2 or (len(words) == 2 and not now):
            raise UsageError("say /pulse close, /pulse close ID, or /pulse close ID now")
        if not words:
            mine = await self._open_here(event)
            if not mine:
                raise UsageError("you have no open pulse in this channel (/pulse list shows the channel's)")
            await responder.private(await self._confirmation(*mine[0]) if len(mine) == 1 else _pick_card(mine))
            return
        try:
            pulse, run = await self._pulse_and_run(event, words[:1])
        except UsageError as error:
            await responder.private(await self._not_closable(event, f"I can't close #{words[0][:20].lstrip('#')}: "
                                                                    f"{error}."))
            return
        await self._may_close(event.actor, pulse)
        if not _closable(pulse, run):
            await responder.private(await self._not_closable(event, await self._close_now(pulse, run)))
        elif now:
            await responder.private(text_card(await self._close_now(pulse, run)))
        else:
            await responder.private(await self._confirmation(pulse, run))

    async def on_close_action(self, event: ActionEvent, responder: Responder) -> None:
        """The buttons of the close cards: `pulse-close:VERB:PULSE:RUN` (RUN 0: a schedule with no open run).
        A button comes from a client, which may send any pulse: who may close it is checked again here."""
        verb, pulse_text, run_text = [*event.action_id.split(":")[1:], "", "", ""][:3]
        pulse_id, run_id = record_id(pulse_text), 0 if run_text == "0" else record_id(run_text)
        async with self._services.db.session() as session:
            pulse = await session.get(Pulse, pulse_id) if pulse_id is not None else None
            run = await session.get(PulseRun, run_id) if run_id else None
        if (pulse is None or verb not in ("ask", "yes", "no") or run_id is None
                or (pulse.platform, pulse.workspace) != (event.platform, event.workspace)
                or (run_id and (run is None or run.pulse_id != pulse.id))):
            await responder.private(error_card("That button no longer does anything."))
            return
        if verb == "no":
            await responder.private(text_card(f"Nothing changed: “{pulse.title}” stays open."))
            return
        try:
            await self._may_close(event.actor, pulse)
        except UsageError as error:
            await responder.private(error_card(str(error)))
            return
        if verb == "ask" and _closable(pulse, run):
            await responder.private(await self._confirmation(pulse, run))
        else:
            await responder.private(text_card(await self._close_now(pulse, run)))

    async def _may_close(self, person: Person, pulse: Pulse) -> None:
        if pulse.author_id == person.user_id and pulse.platform == person.platform:
            return
        async with self._services.db.session() as session:
            if not await has_any_role(session, person):
                raise UsageError("only the pulse's author or an admin can close it")

    async def _close_now(self, pulse: Pulse, run: PulseRun | None) -> str:
        """Close the open run; a pulse with none open (a schedule not yet run, or between runs) stops instead."""
        if run is None or run.status == "closed":
            return (f"Pulse #{pulse.id} “{pulse.title}” won't run again." if await self._stop(pulse)
                    else f"Pulse #{pulse.id} “{pulse.title}” is already closed." if run
                    else f"Pulse #{pulse.id} “{pulse.title}” has ended.")
        if not await self._pulses.close(run.id or 0):
            return f"Pulse #{pulse.id} “{pulse.title}” is already closed."
        ended = pulse.recurrence is not None and await self._stop(pulse)  # a one-off ended with its run
        return (f"🔒 Pulse #{pulse.id} “{pulse.title}” is closed{' and won’t run again' if ended else ''}; "
                "the results are on their way to you.")

    async def _open_here(self, event: CommandEvent) -> list[tuple[Pulse, PulseRun | None]]:
        """The caller's pulses in this channel that a close would change (an open run, or runs still to come),
        newest first, with each one's latest run."""
        async with self._services.db.session() as session:
            pulses = list(await session.exec(select(Pulse).where(
                Pulse.platform == event.platform, Pulse.channel_id == self._channel(event),
                col(Pulse.workspace).is_not_distinct_from(event.workspace), Pulse.author_id == event.actor.user_id,
                or_(Pulse.status == "active", col(Pulse.id).in_(
                    select(PulseRun.pulse_id).where(PulseRun.status == "open"))))
                .order_by(col(Pulse.id).desc()).limit(CLOSE_LISTED)))
            found = []
            for pulse in pulses:
                run = (await session.exec(select(PulseRun).where(PulseRun.pulse_id == pulse.id)
                                          .order_by(col(PulseRun.scheduled_for).desc()))).first()
                if _closable(pulse, run):
                    found.append((pulse, run))
        return found

    async def _not_closable(self, event: CommandEvent, why: str) -> Card:
        """Why nothing was closed, and the caller's open pulses here to pick from instead."""
        mine = await self._open_here(event)
        if not mine:
            return Card(fallback=why, blocks=(Text(why), Context(("You have no open pulse in this channel.",))))
        listed = _pick_card(mine)
        return Card(fallback=f"{why}\n{listed.fallback}", blocks=(Text(why), *listed.blocks))

    async def _confirmation(self, pulse: Pulse, run: PulseRun | None) -> Card:
        ids = f"{pulse.id}:{run.id if run is not None else 0}"
        if run is not None and run.status == "open":
            async with self._services.db.session() as session:
                answered = (await session.exec(select(func.count()).select_from(
                    select(Participation.platform, Participation.user_id).where(Participation.run_id == run.id)
                    .distinct().subquery()))).one()
            text = f"Close “{pulse.title}” now? {answered} answered so far."
            after = "Answers stop, and the results go to you" + (" and the channel." if pulse.audience.get(
                "share") else ".")
        else:
            text = f"Stop “{pulse.title}”? No run is open now; it won't run again."
            after = "Its past results stay readable with /pulse results."
        return Card(fallback=text, blocks=(
            Text(text),
            Buttons((Button(f"pulse-close:yes:{ids}", "Close" if run is not None and run.status == "open"
                            else "Stop it", "yes", "danger"),
                     Button(f"pulse-close:no:{ids}", "Keep it open", "no"))),
            Context((f"{after} Or type /pulse close {pulse.id} now.",))))

    async def _stop(self, pulse: Pulse) -> bool:
        """No more runs of a pulse; True if it still had some to come."""
        async with self._services.db.session() as session:
            stored = await session.get(Pulse, pulse.id)
            if stored is None or stored.status != "active":
                return False
            stored.status = "ended"
            session.add(stored)
            await session.commit()
        return True

    async def export(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        """The CSV goes to the asker by DM, as a file (a private reply can't carry one)."""
        pulse, run = await self._find(event, words)
        await self._may_read(event.actor, pulse)
        run = await self._shown_run(pulse, run)
        data = await self.csv(pulse, run)
        rows = len(read_csv(data)) - 1  # a comment may hold a line break
        async with self._services.db.session() as session:
            name = f"pulse-{pulse.id}-run-{await run_number(session, run)}.csv"
            url = await save_file(session, name, MIME, data)
            card = Card(fallback=f"CSV of pulse #{pulse.id}: {pulse.title}", blocks=(
                Heading(f"CSV: {pulse.title}"),
                Text(f"{rows} row{'s' if rows != 1 else ''}" + (", no names (anonymous pulse)" if pulse.anonymous
                                                                 else "")),
                File(url, name, elsewhere=f"`earshot pulse-export {pulse.id}` writes it on the server.")))
            await self._services.outbox.send(session, Target.user(event.platform, event.actor.user_id), card,
                                              dedupe_key=f"export:{event.platform}:{event.event_id}"[:300],
                                              created_by=f"{event.platform}:{event.actor.user_id}")
            await record(session, self._services.keys, actor=event.actor.key, action="pulse.exported",
                         subject=f"pulse:{pulse.id}", details={"run": run.id, "format": "csv", "rows": rows},
                         workspace=event.workspace)
            await session.commit()
        await responder.private(text_card(f"📎 I've sent you the CSV of “{pulse.title}” by direct message."))

    async def csv(self, pulse: Pulse, run: PulseRun) -> bytes:
        """The CSV file (bot.spreadsheet): one row per answer, with a `score` beside the answer where it is a number;
        a named pulse's rows by person (then question); anonymous pulses carry no names, only the day answered,
        and leave out what the minimums hide (a question with too few answers, comments with too few others)."""
        async with self._services.db.session() as session:
            questions = await self._pulses.questions(session, pulse.id or 0)
            results = await self._pulses.results(session, pulse, run, questions)
            shown = {r.question.id: r for r in results.questions if not r.hidden}
            rows = [] if results.hidden else list(await session.exec(
                select(Response).where(Response.run_id == run.id, col(Response.question_id).in_(list(shown)))
                .order_by(col(Response.id))))
            names = {} if pulse.anonymous else await self._names(session, pulse.platform, rows)
        header = ["question", "answer", "score", "comment", "answered_on"] + ([] if pulse.anonymous
                                                                            else ["person", "name"])
        if not pulse.anonymous:  # by name (the unnamed last, by id), then question; anonymous rows stay unordered
            rows.sort(key=lambda r: (not names.get(r.respondent_id or ""), name_order(names.get(
                r.respondent_id or "", "")), r.respondent_id or "", shown[r.question_id].question.position))
        cells: list[list[Cell]] = []
        for row in rows:
            result = shown[row.question_id]
            question = result.question
            comment = "" if result.comments_hidden else row.comment or ""
            who = [] if pulse.anonymous else [row.respondent_id, names.get(row.respondent_id or "", "")]
            cells.append([question.prompt, label_of(question.kind, question.options, row.value),
                          score_of(question.kind, row.value), comment, row.answered_on, *who])
        for result in results.questions:
            if results.hidden or result.hidden:
                cells.append([result.question.prompt, f"hidden: fewer than {results.minimum} answers", "", "", ""])
        return csv_bytes(header, cells)

    # -- helpers ---------------------------------------------------------------------------------
    @staticmethod
    async def _names(session: AsyncSession, platform: str, rows: list[Response]) -> dict[str, str]:
        """Display names Earshot knows for the respondents of a named pulse, by respondent id."""
        prefix = f"{platform}:"
        ids = {row.respondent_id.removeprefix(prefix) for row in rows if row.respondent_id}
        found = await session.exec(select(PersonRow.user_id, PersonRow.display_name).where(
            PersonRow.platform == platform, col(PersonRow.user_id).in_(ids), col(PersonRow.display_name).is_not(None)))
        return {prefix + user_id: name or "" for user_id, name in found}

    async def _own_zone(self, event: CommandEvent) -> str:
        """The asker's own timezone, for the form to start in: what the platform said with the event (Teams),
        what Earshot has seen of them, or what the platform says when asked (Slack's users.info); else the
        deployment's."""
        zone = event.actor.timezone
        if not zone:
            async with self._services.db.session() as session:
                zone = (await session.exec(select(PersonRow.timezone).where(
                    PersonRow.platform == event.platform, PersonRow.user_id == event.actor.user_id))).first()
        adapter = self._services.adapters.get(event.platform)
        if not zone and isinstance(adapter, PersonLookup):
            try:
                async with asyncio.timeout(ZONE_LOOKUP_SECONDS):
                    found = await adapter.person(event.actor.user_id)
            except (DeliveryError, TimeoutError):  # the form must open within seconds; the deployment's zone will do
                found = None
            zone = found.timezone if found is not None else None
        try:
            return zone_name(zone) if zone else self._services.settings.timezone
        except UsageError:  # a name this machine's zone database lacks
            return self._services.settings.timezone

    async def _may_launch(self, event: CommandEvent, responder: Responder) -> bool:
        async with self._services.db.session() as session:
            allowed = await has_any_role(session, event.actor, "manager")
        if not allowed:
            await responder.private(Card(fallback="Only managers and admins can launch pulses.", blocks=(
                Text("🙏 Only managers and admins can launch pulses, so people aren't polled from all sides."),
                Context(("Ask your manager, or an admin can grant you the manager role (earshot roles grant).",)))))
        return allowed

    async def _may_reach(self, event: CommandEvent, spec: PulseSpec, trusted_channel: bool = True) -> None:
        """A pulse for another channel (to:#team) needs that channel to exist, as far as the platform shows it,
        and its author in it, unless they are an admin: a manager polls the people they work with, not any
        channel the bot is in. The channel a command was typed in is the platform's word; a form's
        (`trusted_channel` False) is the client's, so it is checked too: the pulse is stored there and may share
        its results there."""
        channels = {spec.audience.get("channel_id"), None if trusted_channel else self._channel(event)}
        if trusted_channel:
            channels.discard(self._channel(event))
        channels.discard(None)
        if not channels:
            return
        async with self._services.db.session() as session:
            admin = await has_any_role(session, event.actor)
        if admin and not trusted_channel:
            return
        adapter = self._services.adapters.get(event.platform)
        for channel in channels:
            try:
                members = set(await channel_member_ids(adapter, channel)) if adapter else set()
            except DeliveryError as error:
                if error.retryable:
                    raise UsageError(f"I couldn't check who is in that channel ({error.reason}); nothing was "
                                     "launched") from None
                members = set()  # the platform knows no such channel (or none Earshot may see)
            shown = f"#{channel[:40]}"
            if trusted_channel and not members:
                raise UsageError(f"I can't find the channel {shown}: there is no such channel, or Earshot isn't in "
                                 "it. Nothing was launched; check the name (or add Earshot to the channel).")
            if not admin and event.actor.user_id not in members:
                raise UsageError(f"you aren't in {shown}: you can send a pulse only to a channel you are in "
                                 "(admins can send it anywhere)")

    async def _are_people(self, event: CommandEvent, spec: PulseSpec) -> None:
        """Listed people must be people, where the platform can tell: each costs a DM (and, on some platforms,
        a new conversation), whatever ids a client sent. Where it can't, a name typed as a word (`to:@nobody`)
        must be someone Earshot knows: seen before, or in this channel."""
        if spec.audience["kind"] != "people":
            return
        adapter = self._services.adapters.get(event.platform)
        try:
            async with self._services.db.session() as session:
                unknown = await unknown_people(session, adapter, event.platform, spec.audience["users"])
                if not unknown and spec.typed_people and not isinstance(adapter, PersonLookup):
                    unknown = await strangers(session, adapter, event.platform, self._channel(event),
                                              spec.typed_people)
        except DeliveryError as error:
            raise UsageError(f"I couldn't check who those people are ({error.reason}); nothing was launched") from None
        if unknown:
            raise UsageError("I don't know " + ", ".join(f"@{user[:40]}" for user in unknown) +
                             (" (and maybe more)" if len(unknown) == UNKNOWN_NAMED else "") +
                             " here: nothing was launched. Pick people from the list, or check the names.")

    async def _may_read(self, person: Person, pulse: Pulse) -> None:
        if pulse.author_id == person.user_id and pulse.platform == person.platform:
            return
        async with self._services.db.session() as session:
            if not await has_any_role(session, person, "hr"):
                raise UsageError("results are for the pulse's author, HR and admins (always within the anonymity "
                                 "minimum)")

    async def _find(self, event: CommandEvent, words: list[str]) -> tuple[Pulse, PulseRun]:
        pulse, run = await self._pulse_and_run(event, words)
        if run is None:
            raise UsageError(f"pulse #{pulse.id} hasn't run yet: {describe(pulse.recurrence, pulse.timezone, False)}")
        return pulse, run

    async def _shown_run(self, pulse: Pulse, run: PulseRun) -> PulseRun:
        """The run whose results may be read: a pulse whose results show at close shows an open run's to no one
        (respondents were told so), so a recurring one gives its latest closed run instead."""
        if pulse.results_live or run.status == "closed":
            return run
        async with self._services.db.session() as session:
            closed = (await session.exec(select(PulseRun).where(
                PulseRun.pulse_id == pulse.id, PulseRun.status == "closed")
                .order_by(col(PulseRun.scheduled_for).desc()))).first()
        if closed is None:
            raise UsageError(f"pulse #{pulse.id} shows its results at close, as its respondents were told; "
                             f"/pulse close {pulse.id} closes it")
        return closed

    async def _pulse_and_run(self, event: CommandEvent, words: list[str]) -> tuple[Pulse, PulseRun | None]:
        """The pulse named by id, else the caller's newest here (anyone's newest when they have none, for HR),
        and its latest run."""
        async with self._services.db.session() as session:
            if words:
                number = record_id(words[0])
                if number is None:
                    raise UsageError(f"“{words[0][:40]}” is not a pulse number; see /pulse list")
                pulse = await session.get(Pulse, number)
            else:
                query = select(Pulse).where(Pulse.platform == event.platform, Pulse.channel_id == self._channel(event),
                                            col(Pulse.workspace).is_not_distinct_from(event.workspace))
                own = query.where(Pulse.author_id == event.actor.user_id)
                pulse = (await session.exec(own.order_by(col(Pulse.id).desc()))).first()
                pulse = pulse or (await session.exec(query.order_by(col(Pulse.id).desc()))).first()
            if pulse is None or (pulse.platform, pulse.workspace) != (event.platform, event.workspace):
                raise UsageError("no such pulse here")
            run = (await session.exec(select(PulseRun).where(PulseRun.pulse_id == pulse.id)
                                      .order_by(col(PulseRun.scheduled_for).desc()))).first()
        return pulse, run

    @staticmethod
    def _channel(event: CommandEvent) -> str:
        return channel_of(event)


def _people_count(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'} by DM"


def _closable(pulse: Pulse, run: PulseRun | None) -> bool:
    """Whether a close would change something: an open run to close, or runs still to come to stop."""
    return (run is not None and run.status == "open") or pulse.status == "active"


def _pick_card(mine: list[tuple[Pulse, PulseRun | None]]) -> Card:
    """The caller's open pulses, each with a button that asks before closing it."""
    lines = [f"#{pulse.id} “{pulse.title}”" + ("" if run is not None and run.status == "open" else " (scheduled)")
             for pulse, run in mine]
    blocks: list[Block] = [Heading("Your open pulses here")]
    for line, (pulse, run) in zip(lines, mine, strict=True):
        blocks += [Text(line), Buttons((Button(f"pulse-close:ask:{pulse.id}:{run.id if run is not None else 0}",
                                               f"Close #{pulse.id}…", "ask"),))]
    return Card(fallback="Your open pulses here:\n" + "\n".join(lines), blocks=tuple(blocks))


def name_order(name: str) -> str:
    """A name as people look it up in a list: case and accents aside, so Émile comes between bruno and zoë."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()
