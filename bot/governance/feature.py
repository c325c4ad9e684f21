"""Wires governance into a core: the `/earshot` command and its parts."""

from __future__ import annotations

from bot.core import Earshot
from bot.governance.audit_command import add_audit_command
from bot.governance.command import earshot_command
from bot.governance.erase_command import add_erase_command


class Governance:
    def __init__(self, core: Earshot) -> None:
        self._services = core.services
        self.command = core.commands.register(earshot_command())
        add_audit_command(self.command, core.services)
        add_erase_command(self.command, core)
