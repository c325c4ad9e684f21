"""The app manifest asks for exactly what the code uses: its commands, events, one request URL, and the OAuth
redirect URL and scopes an install asks for."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.runtime import Runtime
from adapters.slack.oauth import REDIRECT_PATH, manifest_bot_scopes
from adapters.slack.platform import EVENTS_PATH, SlackPlatform
from bot.config import load_settings

MANIFEST = (Path(__file__).parents[2] / "adapters" / "slack" / "manifest.yml").read_text()


def listed(key: str) -> list[str]:
    """The `- item` lines of one YAML list in the manifest (comments dropped)."""
    block = MANIFEST.split(f"{key}:", 1)[1]
    items = []
    for line in block.splitlines()[1:]:
        match = re.match(r"^\s+- ([\w.:/]+)", line)
        if not match:
            if line.strip() and not line.strip().startswith(("#", "url", "description", "usage_hint", "should")):
                break
            continue
        items.append(match.group(1))
    return items


def test_manifest_matches_the_code(tmp_path: Path) -> None:
    runtime = Runtime(load_settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/m.db", SLACK_BOT_TOKEN="xoxb-1",
                                    SLACK_SIGNING_SECRET="s", EARSHOT_SANDBOX=False))
    slack = next(p for p in runtime.platforms if isinstance(p, SlackPlatform))
    commands = [c.removeprefix("command: ") for c in re.findall(r"- (command: /\w+)", MANIFEST)]
    assert sorted(commands) == sorted(f"/{name}" for name in runtime.core.commands.commands)
    events = {e.split(".")[0] for e in listed("bot_events")}
    assert events == set(slack.listeners.events())
    urls = set(re.findall(r"(?:url|request_url): (\S+)", MANIFEST))
    assert urls == {f"https://earshot.example.com{EVENTS_PATH}"}
    assert set(listed("bot")) == {"chat:write", "commands", "im:write", "files:write", "users:read", "channels:read",
                                  "groups:read", "reactions:read", "channels:history", "groups:history",
                                  "im:history"}
    assert manifest_bot_scopes(MANIFEST) == listed("bot")
    assert listed("redirect_urls") == [f"https://earshot.example.com{REDIRECT_PATH}"]
