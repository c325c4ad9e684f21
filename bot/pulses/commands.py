"""`/pulse`: the creation form, the one-line syntax, templates, list, results, close, export."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.adapter import DeliveryError, Responder
from bot.cards import Card, Context, File, FormErrors, Heading, Text, text_card
from bot.commands import Command, UsageError, channel_of, record_id
from bot.core import Services
from bot.events import CommandEvent, FormSubmitted, Person, Target
from bot.files import save_file
from bot.pulses.audience import UNKNOWN_NAMED, channel_member_ids, unknown_people
from bot.pulses.cards import results_card
from bot.pulses.form import creation_form, spec_from_form
from bot.pulses.questions import label_of
from bot.pulses.schedule import describe
from bot.pulses.service import Pulses
from bot.pulses.spec import ONE_LINE_HELP, PulseSpec, from_template, parse_one_line, words_of
from bot.pulses.templates import TEMPLATES
from bot.roles import has_any_role
from bot.spreadsheet import MIME, Cell, csv_bytes, read_csv
from storage.tables import Person as PersonRow
from storage.tables import Pulse, PulseRun, Response


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
        command.add("close", "[id]", "close a pulse now (no id: your latest open one here)")(self.close)
        command.add("export", "[id]", "answers as a CSV file by DM (no names if anonymous)")(self.export)
        self._subcommands = tuple(command.subcommands)
        return command

    # -- launching -------------------------------------------------------------------------------
    async def launch_or_form(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        if not await self._may_launch(event, responder):
            return
        if not words:
            await responder.open_form(creation_form(self._channel(event), self._services.settings.timezone))
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
            Context(("/pulse template enps to:dm anonymous every:fri@16:00",)))))

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
               "people": f"{len(spec.audience.get('users', []))} people by DM"}[spec.audience["kind"]]
        text = f"📊 Pulse #{pulse.id} “{pulse.title}” goes to {who}, {when}."
        await responder.private(Card(fallback=text, blocks=(
            Text(text),
            Context((("anonymous" if pulse.anonymous else "named") + " · " +
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
            await session.commit()
        await responder.private(results_card(results, final=run.status == "closed", trend=trend,
                                             trend_chart=trend_chart))

    async def close(self, event: CommandEvent, words: list[str], responder: Responder) -> None:
        """Close the open run; a pulse with none open (a schedule not yet run, or between runs) stops instead."""
        pulse, run = await self._pulse_and_run(event, words, mine=True)
        async with self._services.db.session() as session:
            if pulse.author_id != event.actor.user_id and not await has_any_role(session, event.actor):
                raise UsageError("only the pulse's author or an admin can close it")
        if run is None or run.status == "closed":
            text = (f"Pulse #{pulse.id} “{pulse.title}” won't run again." if await self._stop(pulse)
                    else f"Pulse #{pulse.id} “{pulse.title}” is already closed." if run
                    else f"Pulse #{pulse.id} “{pulse.title}” has ended.")
            await responder.private(Card(fallback=text, blocks=(Text(text),)))
            return
        if not await self._pulses.close(run.id or 0):
            text = f"Pulse #{pulse.id} “{pulse.title}” is already closed."
            await responder.private(Card(fallback=text, blocks=(Text(text),)))
            return
        ended = pulse.recurrence is not None and await self._stop(pulse)  # a one-off ended with its run
        text = (f"🔒 Pulse #{pulse.id} “{pulse.title}” is closed{' and won’t run again' if ended else ''}; "
                "the results are on their way to you.")
        await responder.private(Card(fallback=text, blocks=(Text(text),)))

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
        name = f"pulse-{pulse.id}-run-{run.id}.csv"
        async with self._services.db.session() as session:
            url = await save_file(session, name, MIME, data)
            card = Card(fallback=f"CSV of pulse #{pulse.id}: {pulse.title}", blocks=(
                Heading(f"CSV: {pulse.title}"),
                Text(f"{rows} row{'s' if rows != 1 else ''}" + (", no names (anonymous pulse)" if pulse.anonymous
                                                                 else "")),
                File(url, name, elsewhere=f"`earshot pulse-export {pulse.id}` writes it on the server.")))
            await self._services.outbox.send(session, Target.user(event.platform, event.actor.user_id), card,
                                              dedupe_key=f"export:{event.platform}:{event.event_id}"[:300],
                                              created_by=f"{event.platform}:{event.actor.user_id}")
            await session.commit()
        await responder.private(text_card(f"📎 I've sent you the CSV of “{pulse.title}” by direct message."))

    async def csv(self, pulse: Pulse, run: PulseRun) -> bytes:
        """The CSV file (bot.spreadsheet): one row per answer; anonymous pulses carry no names, only the day
        answered, and leave out what the minimums hide (a question with too few answers, comments with too few
        others)."""
        async with self._services.db.session() as session:
            questions = await self._pulses.questions(session, pulse.id or 0)
            results = await self._pulses.results(session, pulse, run, questions)
            shown = {r.question.id: r for r in results.questions if not r.hidden}
            rows = [] if results.hidden else list(await session.exec(
                select(Response).where(Response.run_id == run.id, col(Response.question_id).in_(list(shown)))
                .order_by(col(Response.id))))
            names = {} if pulse.anonymous else await self._names(session, pulse.platform, rows)
        header = ["question", "answer", "comment", "answered_on"] + ([] if pulse.anonymous else ["person", "name"])
        cells: list[list[Cell]] = []
        for row in rows:
            result = shown[row.question_id]
            question = result.question
            comment = "" if result.comments_hidden else row.comment or ""
            who = [] if pulse.anonymous else [row.respondent_id, names.get(row.respondent_id or "", "")]
            cells.append([question.prompt, label_of(question.kind, question.options, row.value), comment,
                          row.answered_on, *who])
        for result in results.questions:
            if results.hidden or result.hidden:
                cells.append([result.question.prompt, f"hidden: fewer than {results.minimum} answers", "", ""])
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

    async def _may_launch(self, event: CommandEvent, responder: Responder) -> bool:
        async with self._services.db.session() as session:
            allowed = await has_any_role(session, event.actor, "manager")
        if not allowed:
            await responder.private(Card(fallback="Only managers and admins can launch pulses.", blocks=(
                Text("🙏 Only managers and admins can launch pulses, so people aren't polled from all sides."),
                Context(("Ask your manager, or an admin can grant you the manager role (earshot roles grant).",)))))
        return allowed

    async def _may_reach(self, event: CommandEvent, spec: PulseSpec, trusted_channel: bool = True) -> None:
        """A pulse for another channel (to:#team) needs its author in that channel, unless they are an admin:
        a manager polls the people they work with, not any channel the bot is in. The channel a command was
        typed in is the platform's word; a form's (`trusted_channel` False) is the client's, so it is checked
        too: the pulse is stored there and may share its results there."""
        channels = {spec.audience.get("channel_id"), None if trusted_channel else self._channel(event)}
        if trusted_channel:
            channels.discard(self._channel(event))
        channels.discard(None)
        if not channels:
            return
        async with self._services.db.session() as session:
            if await has_any_role(session, event.actor):
                return
        adapter = self._services.adapters.get(event.platform)
        for channel in channels:
            try:
                members = set(await channel_member_ids(adapter, channel)) if adapter else set()
            except DeliveryError as error:
                raise UsageError(f"I couldn't check who is in that channel ({error.reason}); nothing was "
                                 "launched") from None
            if event.actor.user_id not in members:
                raise UsageError("you can send a pulse only to a channel you are in (admins can send it anywhere)")

    async def _are_people(self, event: CommandEvent, spec: PulseSpec) -> None:
        """Listed people must be people, where the platform can tell: each costs a DM (and, on some platforms,
        a new conversation), whatever ids a client sent."""
        if spec.audience["kind"] != "people":
            return
        try:
            async with self._services.db.session() as session:
                unknown = await unknown_people(session, self._services.adapters.get(event.platform), event.platform,
                                               spec.audience["users"])
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

    async def _pulse_and_run(self, event: CommandEvent, words: list[str],
                             mine: bool = False) -> tuple[Pulse, PulseRun | None]:
        """The pulse named by id, else the caller's newest here (with `mine`: their newest with an open run, or
        else their newest still to run; without, anyone's newest when they have none), and its latest run."""
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
                if mine:
                    running = own.where(col(Pulse.id).in_(select(PulseRun.pulse_id).where(PulseRun.status == "open")))
                    pulse = (await session.exec(running.order_by(col(Pulse.id).desc()))).first()
                    query = own.where(Pulse.status == "active")
                else:  # the caller's own newest here, else anyone's (for HR)
                    pulse = (await session.exec(own.order_by(col(Pulse.id).desc()))).first()
                pulse = pulse or (await session.exec(query.order_by(col(Pulse.id).desc()))).first()
            if pulse is None or (pulse.platform, pulse.workspace) != (event.platform, event.workspace):
                raise UsageError("no such pulse here" + (" (you have no open pulse in this channel)" if mine else ""))
            run = (await session.exec(select(PulseRun).where(PulseRun.pulse_id == pulse.id)
                                      .order_by(col(PulseRun.scheduled_for).desc()))).first()
        return pulse, run

    @staticmethod
    def _channel(event: CommandEvent) -> str:
        return channel_of(event)
