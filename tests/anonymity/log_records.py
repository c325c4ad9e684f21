"""The log records of a pulse, captured at DEBUG: Earshot's own loggers never write an answer, and what every
logger writes (a driver's DEBUG lines show the statements it runs) obeys the linking rules, per vote."""

from __future__ import annotations

import logging

from tests.anonymity.linking import Ledger

ROUTE = "logs"
EARSHOT_LOGGERS = ("bot", "adapters", "storage", "earshot")
FORMAT = logging.Formatter("%(name)s %(levelname)s %(message)s")


def check_records(ledger: Ledger, vote: str, records: list[logging.LogRecord]) -> None:
    tokens: set[str] = set()
    people: set[str] = set()
    for record in records:
        line = FORMAT.format(record)
        found, named = ledger.secrets.tokens_in(line), ledger.secrets.people_in(line)
        copy = f"a record of {record.name} at {record.levelname}"
        if found and record.name.split(".")[0] in EARSHOT_LOGGERS:
            ledger.fact("log", ROUTE, copy, vote, f"Earshot's own log holds answer(s) {sorted(found)}")
        ledger.row(ROUTE, copy, vote, found, named)
        tokens |= found
        people |= named
    ledger.see(ROUTE, f"the {len(records)} records logged", vote, tokens, people)
