"""`/earshot`: the admins' and HR's command for people data (the audit log, erasure on request, retention).

Each part adds its own subcommands to the one `Command` (bot.governance.audit_command, erase_command, …)."""

from __future__ import annotations

from bot.commands import Command


def earshot_command() -> Command:
    return Command("earshot", "people data: who read what, erasure on request, how long things are kept", notes=(
        "For admins (erasure, retention) and HR (the audit log). Every use is itself recorded in the audit log.",))
