"""Results: the anonymity minimums per question and for comments, eNPS, charts at close, trends across runs,
results at close, the privacy note respondents read, and /pulse list (minimums here: 3 answers, 5 comments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.cards import Card, Image
from bot.charts import load_chart
from bot.pulses.cards import privacy_note
from storage.tables import Pulse, PulseRun, Question
from tests.pulses.support import buttons, channel_card, command, exported_csv, launched_card, sent, submit, vote
from tests.support.core import CoreHarness


def actions_by_question(card: Card) -> dict[str, str]:
    """`pulse:vote:RUN:QUESTION` → the first vote button's action id, per question id."""
    return {action.rsplit(":", 1)[1]: action for action, _, _ in buttons(card) if action.startswith("pulse:vote:")}


def text_of(card: Card) -> str:
    return "\n".join(getattr(b, "text", "") or " ".join(getattr(b, "items", ())) for b in card.blocks)


async def results_text(h: CoreHarness) -> str:
    return text_of((await command(h, "results")).private_cards[-1])


async def test_each_anonymous_question_needs_the_minimum_of_its_own(harness: CoreHarness) -> None:
    await command(harness, "template wellbeing anonymous")
    feeling, support = actions_by_question(await launched_card(harness)).values()
    for user in ("u1", "u2", "u3"):
        await vote(harness, user, feeling, "4")
    await vote(harness, "u1", support, "yes")  # one person: the run has 3 respondents, this question 1 answer
    await command(harness, "close 1 now")  # anonymous answers below two batches' worth wait for the close
    shown = await results_text(harness)
    assert "average 4.00 / 5" in shown
    assert "🔒 hidden until 3 people answer this question (anonymity)" in shown and "👍 Yes" not in shown
    export = await exported_csv(harness)
    assert "Do you have the support you need right now?,hidden: fewer than 3 answers" in export
    assert "👍 Yes" not in export and export.count("How are you feeling this week?,4 🙂") == 3


async def test_comments_need_their_own_minimum_and_come_shuffled(harness: CoreHarness,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    shuffled: list[list[str]] = []

    class Spy:
        """Reverses each list it is asked to shuffle, and remembers the order it got."""

        @staticmethod
        def shuffle(items: list[Any]) -> None:
            if items:
                shuffled.append(list(items))
            items.reverse()

    monkeypatch.setattr("bot.pulses.results.random", Spy)
    for comments in (4, 5):  # two pulses, closed with four comments of six answers, and with five of seven
        await command(harness, '"Energy?" scale comment anonymous')
        await harness.deliver()
        ((vote_action, _, _), *_, (comment_action, _, _)) = buttons(sent(harness, "Pulse:")[-1])
        for user in ("u1", "u2"):  # answers without a comment
            await vote(harness, user, vote_action, "3")
        form_id = (await vote(harness, "u3", comment_action, "comment")).forms[0].form_id
        for n in range(1, comments + 1):
            assert await submit(harness, f"u{n + 2}", form_id, {"answer": "4", "comment": f"note {n}"}) is None
        await command(harness, f"close {comments - 3} now")
        shown = await results_text(harness)
        if comments == 4:
            assert "comments show once 5 people have written one" in shown and "note" not in shown
    order = [line.strip("“”") for line in shown.splitlines() if line.startswith("“note")]
    assert sorted(order) == [f"note {n}" for n in range(1, 6)]
    assert order == list(reversed(shuffled[-1]))  # as shuffled, not as stored


@pytest.mark.parametrize("scores, enps", [(("10", "9", "7", "3"), "eNPS +25"), (("10", "5", "3"), "eNPS -33"),
                                          (("8", "7"), "eNPS +0")])
async def test_enps_is_promoters_minus_detractors(harness: CoreHarness, scores: tuple[str, ...], enps: str) -> None:
    await command(harness, '"Recommend working here?" enps named')
    action = buttons(await launched_card(harness))[0][0]
    for n, score in enumerate(scores):
        await vote(harness, f"u{n}", action, score)
    await harness.deliver()
    assert enps in text_of(channel_card(harness))


async def test_the_final_results_carry_a_bar_chart(harness: CoreHarness) -> None:
    await command(harness, '"Ship on Friday?" yesno named')
    action = buttons(await launched_card(harness))[0][0]
    await vote(harness, "u1", action, "yes")
    await command(harness, "close 1 now")
    await harness.deliver()
    (final,) = sent(harness, "Results:")
    (chart,) = [b for b in final.blocks if isinstance(b, Image)]
    assert chart.alt == "Bar chart of the answers to “Ship on Friday?”"
    png = await load_chart(harness.db, chart.url)
    assert png is not None and png.startswith(b"\x89PNG")


async def test_a_recurring_pulse_shows_its_trend_with_a_chart(harness: CoreHarness) -> None:
    await command(harness, '"Energy?" scale every:fri@16:00 tz:Europe/Berlin named')
    pulses = harness.features.pulses.pulses
    async with harness.db.session() as session:
        question = (await session.exec(select(Question))).one()
    for week, scores in ((1, ("4", "5")), (2, ("2",))):
        run = await pulses.open_run(1, datetime(2026, 11, 6, 15, tzinfo=UTC) + timedelta(weeks=week))
        assert run is not None
        for n, score in enumerate(scores):
            await vote(harness, f"u{n}", f"pulse:vote:{run.id}:{question.id}", score)
        assert await pulses.close(run.id or 0)
    await harness.deliver()
    first, second = sent(harness, "Results:")
    trends = [[b for b in card.blocks if isinstance(b, Image) and b.alt.startswith("Trend")]
              for card in (first, second)]
    assert trends[0] == []  # one point draws no line
    assert "Trend across runs — 13 Nov: 4.50 · 20 Nov: 2.00" in text_of(second)
    assert "Trend across runs — 13 Nov: 4.50 · 20 Nov: 2.00" in await results_text(harness)  # on request too
    assert len(trends[1]) == 1 and (await load_chart(harness.db, trends[1][0].url) or b"").startswith(b"\x89PNG")


async def test_results_at_close_stay_off_the_live_card_until_it_closes(harness: CoreHarness) -> None:
    await command(harness, '"Ship on Friday?" yesno at-close named')
    action = buttons(await launched_card(harness))[0][0]
    await vote(harness, "u1", action, "yes")
    await vote(harness, "u2", action, "no")
    await harness.deliver()
    live = text_of(channel_card(harness))
    assert "2 answered" not in live and "50%" not in live
    assert sent(harness, "Live results") == []  # nor a live tally to the author
    for asked in ("results", "export"):  # nor on request
        assert "shows its results at close" in (await command(harness, asked)).last_text
    await command(harness, "close 1 now")
    await harness.deliver()
    closed = text_of(channel_card(harness))
    assert "2 answered" in closed and "█████░░░░░  👍 Yes  50% (1)" in closed
    assert "50% (1)" in await results_text(harness)


async def test_respondents_read_exactly_what_the_author_will_see(harness: CoreHarness) -> None:
    await command(harness, '"Honestly?" scale anonymous')
    card = await launched_card(harness)
    assert card.blocks[-1].items == (  # type: ignore[union-attr]
        "🔒 Anonymous: your answer is kept sealed, never readable beside your name, until it joins the results in a "
        "group of at least 3 people's answers, so neither the author, HR, nor anyone with a copy of Earshot's data "
        "can tell which one is yours; only someone who also holds Earshot's secret key, or changes its code, could. "
        "Answers are final. A question's totals appear in steps, from 6 answers while it runs and from 3 at close, "
        "and its comments once 5 people have written one, shuffled. Live results: everyone in this channel sees the "
        "totals and comments on this card as answers come in, within the same minimums.",)
    named = Pulse(platform="test", channel_id="C1", author_id="boss", title="Q", audience={"share": True},
                  results_live=False)
    assert privacy_note(named, 3, 5) == ("👤 Not anonymous: the author and HR see who answered what. You can change "
                                         "your answer until it closes. Totals are shared in the channel at close.")
    by_dm = Pulse(platform="test", channel_id="C1", author_id="boss", title="Q", audience={"kind": "dm"})
    assert "Live results" not in privacy_note(by_dm, 3, 5)  # a DM's copy of the question shows no totals


async def test_list_shows_the_open_pulses_of_this_channel(harness: CoreHarness) -> None:
    assert "No open pulses" in (await command(harness, "list")).last_text
    await command(harness, '"Coffee?" yesno anonymous')
    await command(harness, '"Tea?" yesno every:fri@16:00 tz:Europe/Berlin named')
    await command(harness, '"Elsewhere?" yesno', channel="C2")
    listed = (await command(harness, "list")).last_text
    assert listed.splitlines() == ["#2 “Tea?” — every week on Fri at 16:00 (Europe/Berlin)",
                                   "#1 “Coffee?” — once · anonymous"]
    await command(harness, "close 1 now")
    assert (await command(harness, "list")).last_text == "#2 “Tea?” — every week on Fri at 16:00 (Europe/Berlin)"
    async with harness.db.session() as session:
        assert len(list(await session.exec(select(PulseRun)))) == 2  # Coffee? and Elsewhere? ran; Tea? waits


async def test_a_recurring_at_close_pulse_shows_its_last_closed_run_while_the_next_is_open(
        harness: CoreHarness) -> None:
    """Was: “shows its results at close” for last week's closed run, as long as this week's was open."""
    await command(harness, '"Energy?" yesno at-close every:fri@16:00 tz:Europe/Berlin named')
    pulses = harness.features.pulses.pulses
    async with harness.db.session() as session:
        question = (await session.exec(select(Question))).one()
    first = await pulses.open_run(1, datetime(2026, 11, 13, 15, tzinfo=UTC))
    assert first is not None
    await vote(harness, "u1", f"pulse:vote:{first.id}:{question.id}", "yes")
    assert await pulses.close(first.id or 0)
    second = await pulses.open_run(1, datetime(2026, 11, 20, 15, tzinfo=UTC))
    assert second is not None
    await vote(harness, "u1", f"pulse:vote:{second.id}:{question.id}", "no")
    shown = await results_text(harness)
    assert "100% (1)" in shown and f"run #{first.id}" in shown  # last week's, not this week's open one
    exported = await exported_csv(harness)
    assert "Yes" in exported and "No" not in exported  # the closed run's answers, too
