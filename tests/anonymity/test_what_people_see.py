"""What the author and the channel see, what the logs keep and what inbound-event dedupe stores, during the same
runs: none of it ties an answer to fewer than the minimum, and closing publishes every answer that may show."""

from __future__ import annotations

from collections import Counter

from tests.anonymity.cards import ROUTE as CARDS
from tests.anonymity.linking import ANY, report
from tests.anonymity.log_records import ROUTE as LOGS
from tests.anonymity.scenario import COMMENT_MINIMUM, MINIMUM, VOTERS, Run


def test_cards_move_in_whole_batches(run: Run) -> None:
    links = run.ledger.found(CARDS)
    assert not links, report(links)
    assert len(run.cards) > VOTERS, "the channel and the author got too few cards to judge"
    final = {token for token, answer in run.secrets.tokens.items() if answer.question_id not in run.ledger.sparse}
    assert final <= run.ledger.seen[CARDS], "the final results show fewer comments than were given"
    assert MINIMUM <= COMMENT_MINIMUM


def test_logs_hold_no_answer_beside_a_person(run: Run) -> None:
    links = run.ledger.found(LOGS)
    assert not links, report(links)
    if run.sqlite:  # aiosqlite logs every statement at DEBUG: none captured would mean the capture is broken
        assert any(record.levelname == "DEBUG" for record in run.logs), "nothing was captured at DEBUG"


def test_every_copy_together_links_nobody(run: Run) -> None:
    links = run.ledger.found(ANY)
    assert not links, report(links)


def test_dedupe_keys_name_nobody(run: Run) -> None:
    """Teams event ids are `conversation|activity`: stored as they come, joined with conversation_ref, they
    name each voter and when they answered."""
    names = set(run.secrets.names)
    conversations = {conversation for conversation, _ in run.conversation_refs}
    assert conversations, "the voters' Teams conversations were not stored"
    assert run.processed_events, "no inbound event was recorded"
    for row in run.processed_events:
        stored = "\t".join(str(value) for value in row).encode()
        named = sorted(name.decode() for name in names if name in stored)
        assert not named, f"processed_event row {row} names {named}"
        assert not any(conversation.encode() in stored for conversation in conversations), row


def test_closing_publishes_every_answer_that_may_show(run: Run) -> None:
    published = Counter(token for _, _, comment in run.published for token in run.secrets.tokens_in(comment or ""))
    for question in run.questions:
        given = [a for a in run.secrets.answers if a.question_id == question]
        if question in run.ledger.sparse:
            assert not any(published[a.token] for a in given), "an answer of a question under the minimum shows"
            continue
        lost = [a.token for a in given if published[a.token] != 1]
        assert not lost, f"question {question}: {len(lost)} of {len(given)} answers not published exactly once"
        values = sorted(value for q, value, _ in run.published if q == question)
        assert values == sorted(a.value or "text" for a in given)
