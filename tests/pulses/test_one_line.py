"""The one-line syntax: the question first, then only known options; a typo is refused with a correction,
never appended to the question, and nothing is launched."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.pulses.spec import Word, words_of
from storage.tables import Pulse
from tests.pulses.support import command
from tests.support.core import CoreHarness


async def pulses(h: CoreHarness) -> list[Pulse]:
    async with h.db.session() as session:
        return list(await session.exec(select(Pulse)))


@pytest.mark.parametrize("text, message", [
    ('"How?" anonymus', "I don't know “anonymus”. Did you mean anonymous?"),
    ("resutls", "/pulse has no “resutls”. Did you mean /pulse results?"),
    ("colse 3", "Did you mean /pulse close?"),
    ("How was the week anonymus", "Did you mean anonymous? If it belongs to the question, put the whole question"),
    ('"How?" anonymous shrae', "Did you mean share?"),
    ('"How?" evrey:fri@16:00', "Did you mean every?"),
    ('"How?" every', "every: needs a value, like every:fri@16:00"),
    ('"How?" to:@ana @ben', "name people or a channel with to:@ana,@ben"),
    ('"How?" week 47', "I don't know “week”. If it belongs to the question, put the whole question in quotes"),
    ('"How?" "And why?"', "a one-line pulse asks one question"),
    ('scale "How?"', "put the question in quotes first"),
    ("coffee", "/pulse has no “coffee”. To ask a question, put the question in quotes first"),
])
async def test_a_typo_is_corrected_and_nothing_launches(harness: CoreHarness, text: str, message: str) -> None:
    reply = await command(harness, text)
    assert message in reply.last_text
    assert "Something went wrong" not in reply.last_text
    assert await pulses(harness) == []


@pytest.mark.parametrize("text, title, anonymous", [
    ('"How?" anonymous', "How?", True),
    ("“How was it, really?” yesno anon", "How was it, really?", True),
    ("„Wie war die Woche?“ scale", "Wie war die Woche?", True),
    ("«Comment ça va ?» yesno anonymous", "Comment ça va ?", True),
    ("「今週はどうでしたか」 scale", "今週はどうでしたか", True),
    ('"Que pensez-vous de « Projet X » ?" yesno', "Que pensez-vous de « Projet X » ?", True),
    ('"Что вы думаете о «Проекте X»?" yesno', "Что вы думаете о «Проекте X»?", True),
    ("„Was heißt ‚fertig‘ für uns?“ scale", "Was heißt ‚fertig‘ für uns?", True),
    ('“How’s the week?” choices:“Good, Bad”', "How’s the week?", True),
    ("How was the week? named scale:1-5", "How was the week?", False),
    ('Week 47: how was it? choices:"Good, Bad"', "Week 47: how was it?", True),  # anonymous unless named
])
async def test_the_question_is_the_quoted_text_or_the_words_before_the_first_option(
        harness: CoreHarness, text: str, title: str, anonymous: bool) -> None:
    assert "goes to this channel" in (await command(harness, text)).last_text
    (pulse,) = await pulses(harness)
    assert (pulse.title, pulse.anonymous) == (title, anonymous)


def test_words_remember_which_were_quoted() -> None:
    assert words_of('"How was it?" choices:"A, B" anonymous ‘so so’') == [
        Word("How was it?", quoted=True), Word("choices:A, B"), Word("anonymous"), Word("so so", quoted=True)]


async def test_help_states_the_rule(harness: CoreHarness) -> None:
    helped = str((await command(harness, "help")).private_cards[-1].blocks)
    assert "the question comes first, in quotes; every word after it must be one of these options" in helped
    assert "/pulse on its own opens a form" in helped  # a newcomer learns the form is there
