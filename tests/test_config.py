"""Configuration: defaults, and one clear line naming the variable for every invalid combination."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, load_settings

OAUTH = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c", "SLACK_SIGNING_SECRET": "s",
         "SLACK_ALLOWED_TEAMS": "T0001",
         "EARSHOT_SECRET_KEY": "a passphrase of thirty-two characters or more"}


def test_defaults_run_the_sandbox_on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./earshot.db"
    assert settings.port == 3978 and settings.anon_min == 5 and settings.timezone == "UTC"
    assert settings.sandbox_enabled and not settings.slack_enabled
    assert settings.listen_host == "127.0.0.1"  # the sandbox trusts whoever reaches it: loopback by default
    assert not settings.teams_enabled  # no app id is no Teams (never an unauthenticated emulator by default)


def test_what_listens_where() -> None:
    slack = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert load_settings(**slack).listen_host == "0.0.0.0"
    assert load_settings(**slack, HOST="10.1.2.3").listen_host == "10.1.2.3"
    assert load_settings(HOST="::1").listen_host == "::1"
    assert load_settings(HOST="localhost").sandbox_enabled
    opened = load_settings(HOST="0.0.0.0", EARSHOT_SANDBOX_PUBLIC="1")
    assert opened.sandbox_enabled and opened.listen_host == "0.0.0.0"
    emulator = load_settings(EARSHOT_TEAMS_EMULATOR="1")
    assert emulator.teams_enabled and not emulator.sandbox_enabled and emulator.listen_host == "127.0.0.1"
    new, old = "n" * 32, Fernet.generate_key().decode()
    keys = load_settings(EARSHOT_SECRET_KEY=f"{new}, {old}")
    assert keys.secret_keys == (new, old) and new not in repr(keys) and old not in repr(keys)


@pytest.mark.parametrize("env, variable", [
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
    ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "nope"}, "SLACK_APP_TOKEN"),
    ({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "s"}, "SLACK_CLIENT_SECRET"),
    ({**OAUTH, "SLACK_ALLOWED_TEAMS": ""}, "SLACK_ALLOWED_TEAMS"),
    ({**OAUTH, "EARSHOT_SECRET_KEY": " "}, "EARSHOT_SECRET_KEY"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "EARSHOT_SANDBOX": "1"}, "EARSHOT_SANDBOX"),
    ({"MicrosoftAppId": "a", "EARSHOT_SANDBOX": "1"}, "EARSHOT_SANDBOX"),
    ({"HOST": "0.0.0.0"}, "EARSHOT_SANDBOX_PUBLIC"),
    ({"HOST": "192.0.2.7", "EARSHOT_SANDBOX": "1"}, "EARSHOT_SANDBOX_PUBLIC"),
    ({"EARSHOT_TEAMS_EMULATOR": "1", "MicrosoftAppId": "a"}, "EARSHOT_TEAMS_EMULATOR"),
    ({"EARSHOT_TEAMS_EMULATOR": "1", "EARSHOT_SANDBOX": "0", "HOST": "0.0.0.0"}, "EARSHOT_TEAMS_EMULATOR"),
    ({"SLACK_CLIENT_SECRET": "c", "SLACK_SIGNING_SECRET": "s"}, "SLACK_CLIENT_ID"),
    ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c"}, "SLACK_SIGNING_SECRET"),
    ({**OAUTH, "SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_BOT_TOKEN"),
    ({**OAUTH, "SLACK_APP_TOKEN": "xapp-1"}, "SLACK_APP_TOKEN"),
    ({**OAUTH, "SLACK_REDIRECT_URI": "https://earshot.example.com/oauth"}, "SLACK_REDIRECT_URI"),
    ({"SLACK_REDIRECT_URI": "https://earshot.example.com/slack/oauth_redirect"}, "SLACK_REDIRECT_URI"),
    ({"MicrosoftAppPassword": "p"}, "MicrosoftAppId"),
    ({"MicrosoftAppId": "a", "MicrosoftAppType": "SingleTenant"}, "MicrosoftAppTenantId"),
    ({"MicrosoftAppType": "Other"}, "MicrosoftAppType"),
    ({"EARSHOT_ANON_MIN": "2"}, "EARSHOT_ANON_MIN"),
    ({"EARSHOT_SECRET_KEY": "short"}, "EARSHOT_SECRET_KEY"),
    ({"EARSHOT_TIMEZONE": "Mars/Olympus"}, "EARSHOT_TIMEZONE"),
    ({"EARSHOT_ADMINS": "U024BE7LH"}, "EARSHOT_ADMINS"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"PORT": "eighty"}, "PORT"),
])
def test_invalid_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(**env)
    assert variable in str(error.value) and "\n" not in str(error.value)


def test_comments_need_a_higher_minimum_than_answers() -> None:
    assert load_settings().comment_min == 10
    assert load_settings(EARSHOT_ANON_MIN="8").comment_min == 10
    assert load_settings(EARSHOT_ANON_MIN="12").comment_min == 24  # left unset, it follows a raised minimum
    assert load_settings(EARSHOT_ANON_MIN="3", EARSHOT_COMMENT_MIN="4").comment_min == 4
    for anon, comments in (("5", "5"), ("6", "4")):
        with pytest.raises(ConfigError) as error:
            load_settings(EARSHOT_ANON_MIN=anon, EARSHOT_COMMENT_MIN=comments)
        assert str(error.value) == (
            f"configuration error: EARSHOT_COMMENT_MIN ({comments}) must be higher than EARSHOT_ANON_MIN ({anon}): "
            "free-text comments can identify their writer, so they need a higher minimum")


def test_platforms_and_admins() -> None:
    settings = load_settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s",
                             EARSHOT_ADMINS="slack:U024BE7LH, teams:29:1a2b")
    assert settings.slack_enabled and not settings.sandbox_enabled
    assert settings.admins == (("slack", "U024BE7LH"), ("teams", "29:1a2b"))
    assert load_settings(DATABASE_URL="postgres://u:p@h/db").database_url == "postgresql+asyncpg://u:p@h/db"


def test_slack_over_oauth_needs_no_bot_token() -> None:
    settings = load_settings(**OAUTH, SLACK_REDIRECT_URI="https://earshot.example.com/slack/oauth_redirect")
    assert settings.slack_enabled and settings.slack_oauth and settings.slack_bot_token is None
    single = load_settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", SLACK_CLIENT_ID=" ",
                           SLACK_CLIENT_SECRET="")
    assert single.slack_enabled and not single.slack_oauth


def test_the_cli_stops_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run([sys.executable, "-m", "adapters.cli", "serve"], capture_output=True, text=True,
                            env={"SLACK_BOT_TOKEN": "xoxb-1", "PATH": ""}, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "earshot: configuration error: SLACK_SIGNING_SECRET is required when SLACK_BOT_TOKEN is set"]
