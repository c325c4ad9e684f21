"""The app manifest asks for exactly what the code uses: its commands, events, one request URL, and the OAuth
redirect URL and scopes an install asks for. The bot scopes are derived from the Web API methods the adapter
calls (found in its source) and the events it subscribes to, through the tables below (Slack's method and event
reference pages): a new call fails here until its scopes are in the table and the manifest."""

from __future__ import annotations

import re
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from adapters.runtime import Runtime
from adapters.slack.oauth import REDIRECT_PATH, manifest_bot_scopes
from adapters.slack.platform import EVENTS_PATH, SlackPlatform
from bot.config import load_settings

SLACK = Path(__file__).parents[2] / "adapters" / "slack"
MANIFEST = (SLACK / "manifest.yml").read_text()

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "apps.uninstall": (),  # a refused install (client id and secret, and the token being taken back)
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "conversations.open": ("im:write",),
    "conversations.members": ("channels:read", "groups:read"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.history": ("channels:history", "groups:history", "im:history"),  # channels, private, DMs
    "conversations.replies": ("channels:history", "groups:history", "im:history"),
    "users.info": ("users:read",),
    "views.open": (),
    "views.publish": (),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}
HELPERS = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}
"""slack_sdk methods that are not one Web API method."""
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_home_opened": (),
    "member_joined_channel": ("channels:read", "groups:read"),
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
    "reaction_added": ("reactions:read",),
    "reaction_removed": ("reactions:read",),
}


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
    needed = {scope for method in methods_called() for scope in METHOD_SCOPES[method]}
    needed |= {scope for event in listed("bot_events") for scope in EVENT_SCOPES[event]}
    assert sorted(listed("bot")) == sorted(needed | ({"commands"} if commands else set()))
    assert manifest_bot_scopes(MANIFEST) == listed("bot")
    assert listed("redirect_urls") == [f"https://earshot.example.com{REDIRECT_PATH}"]


def methods_called() -> set[str]:
    """Every Web API method the adapter's source calls: `client.chat_postMessage(…)` and `api_call("…")`."""
    source = "\n".join(path.read_text() for path in SLACK.glob("*.py"))
    called: set[str] = set(re.findall(r"api_call\(\s*[\"']([\w.]+)[\"']", source))
    for name in set(re.findall(r"\.([a-z]+_\w+)\(", source)):
        if callable(getattr(AsyncWebClient, name, None)) and name != "api_call":
            called.update(HELPERS.get(name, (name.replace("_", "."),)))
    return called


def test_every_web_api_method_called_has_its_scopes_in_the_table() -> None:
    called = methods_called()
    assert {"chat.postMessage", "views.open", "files.completeUploadExternal"} <= called  # the scan sees the calls
    assert called == set(METHOD_SCOPES), "add the new method with its scopes to METHOD_SCOPES (and the manifest)"
