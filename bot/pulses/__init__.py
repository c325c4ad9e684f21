"""Pulse checks: short polls launched by managers, answered in chat, anonymous for real, on schedules."""
