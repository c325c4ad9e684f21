"""Who can reach Teams and where its replies go: /api/messages exists only for a registered bot or the
loopback-only emulator; a reply never follows a redirect; what is cached per service URL or conversation stays
bounded; /healthz names no platform."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity

from adapters.teams import references as references_module
from adapters.teams.connection import CONNECTORS_KEPT, build_cloud_adapter
from adapters.teams.lru import LRU
from adapters.teams.platform import EMULATOR_NOTICE
from adapters.teams.references import References
from adapters.teams.translate import StoredReference
from bot.config import ConfigError, load_settings
from storage.engine import Database
from tests.support.server import Running, running_app
from tests.teams.activities import recorded
from tests.teams.fake_connector import FakeConnector, running_connector

SLACK = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "http://127.0.0.1:9/"}
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with running_connector() as fake:
        yield fake


async def post(server: Running, activity: dict[str, Any]) -> int:
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/api/messages", data=json.dumps(activity),
            headers={"Content-Type": "application/json"}) as response:
        return response.status


async def health(server: Running) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{server.url}/healthz") as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


@sqlite_only
async def test_a_slack_only_deployment_serves_no_teams_and_posts_nowhere(db_url: str,
                                                                         connector: FakeConnector) -> None:
    async with running_app(db_url, demo=False, **SLACK) as running:
        assert list(running.runtime.adapters) == ["slack"]
        activity = recorded("message_personal_command", serviceUrl=connector.url, text="station preview")
        assert await post(running, activity) in (404, 405)
        await asyncio.sleep(0.5)  # a turn would have replied by now
        assert connector.calls == []
        shown = await health(running)
    assert shown == {"status": "ok", "database": "ok", "role": "all", "scheduler_leader": shown["scheduler_leader"]}


@sqlite_only
async def test_with_no_platform_configured_there_is_no_teams_endpoint(db_url: str, connector: FakeConnector) -> None:
    async with running_app(db_url) as running:
        assert "teams" not in running.runtime.adapters
        assert await post(running, recorded("message_personal_command", serviceUrl=connector.url)) in (404, 405)
        await asyncio.sleep(0.3)
    assert connector.calls == []


@sqlite_only
async def test_healthz_names_no_platform(db_url: str) -> None:
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1") as running:
        shown = await health(running)
    assert "platforms" not in shown and "teams" not in json.dumps(shown)


def test_the_emulator_listens_on_loopback_only_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match="EARSHOT_TEAMS_EMULATOR"):
        load_settings(EARSHOT_TEAMS_EMULATOR="1", EARSHOT_SANDBOX="0", HOST="0.0.0.0")
    with pytest.raises(ConfigError, match="EARSHOT_TEAMS_EMULATOR"):
        load_settings(EARSHOT_TEAMS_EMULATOR="1", MicrosoftAppId="2d4b1c3a-9f5e-4f7a-8c1e-6a2b3c4d5e6f")
    assert load_settings(EARSHOT_TEAMS_EMULATOR="1", EARSHOT_SANDBOX="0").listen_host == "127.0.0.1"
    assert not load_settings(EARSHOT_SANDBOX="0", MicrosoftAppId="").teams_enabled  # an empty id is no Teams


@sqlite_only
async def test_the_emulator_announces_itself_at_start(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.teams.platform"):
        async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1"):
            pass
    assert EMULATOR_NOTICE in caplog.messages
    assert EMULATOR_NOTICE.startswith("Teams emulator mode: unauthenticated, loopback only")


@sqlite_only
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_reply_never_follows_a_redirect(db_url: str, connector: FakeConnector, status: int) -> None:
    async with running_connector() as elsewhere, running_app(db_url, demo=False,
                                                             EARSHOT_TEAMS_EMULATOR="1") as running:
        connector.redirect = (status, elsewhere.url)
        answered = await post(running, recorded("message_personal_command", serviceUrl=connector.url,
                                                text="station preview"))
        assert answered in (201, 502)
        await connector.wait_for(1)
        await asyncio.sleep(0.3)
    assert elsewhere.calls == []  # the body (customer feedback) stayed with the service URL Teams named


@sqlite_only
async def test_a_failed_reply_is_a_502_not_a_500(db_url: str, connector: FakeConnector) -> None:
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1") as running:
        connector.redirect = (307, "http://127.0.0.1:9/")
        assert await post(running, recorded("message_personal_command", serviceUrl=connector.url)) == 502


async def test_connector_clients_are_bounded_however_many_service_urls_come() -> None:
    _, authentication = build_cloud_adapter(load_settings(EARSHOT_TEAMS_EMULATOR="1", EARSHOT_SANDBOX="0"))
    factory = authentication.create_connector_factory(ClaimsIdentity({}, True))
    audience = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
    first = await factory.create("http://127.0.0.1:9/s0/", audience)
    assert await factory.create("http://127.0.0.1:9/s0/", audience) is first  # reused while recent
    clients = [await factory.create(f"http://127.0.0.1:9/s{n}/", audience) for n in range(1, 500)]
    assert len(authentication._connectors) == CONNECTORS_KEPT
    assert await factory.create("http://127.0.0.1:9/s499/", audience) is clients[-1]
    assert await factory.create("http://127.0.0.1:9/s0/", audience) is not first  # dropped long ago
    config = clients[-1].config
    assert config.redirect_policy.max_redirects == 0
    await authentication.close()
    assert len(authentication._connectors) == 0


@sqlite_only
async def test_turns_from_many_service_urls_keep_a_bounded_cache(db_url: str, connector: FakeConnector) -> None:
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1") as running:
        for n in range(CONNECTORS_KEPT + 8):
            activity = recorded("message_personal_command", id=f"17095437{n:05d}",
                                serviceUrl=f"{connector.url}s{n}/")
            assert await post(running, activity) == 201
        await connector.wait_for(CONNECTORS_KEPT + 8)
        teams = next(p for p in running.runtime.platforms if p.name == "teams")
        assert len(teams._authentication._connectors) == CONNECTORS_KEPT  # type: ignore[attr-defined]


async def test_references_remember_a_bounded_number_of_conversations(db: Database,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(references_module, "REFERENCES_KEPT", 8)
    monkeypatch.setattr(references_module, "NAMES_KEPT", 8)
    references = References(db)
    for n in range(50):
        conversation = f"a:chat-{n}"
        await references.remember(StoredReference(conversation, "personal", f"29:u{n}", {
            "conversation": {"id": conversation}, "serviceUrl": f"http://127.0.0.1:9/s{n}/"}))
        await references.remember_name(f"29:u{n}", f"Person {n}")
    assert len(references._written) == 8 and len(references._names) == 8
    again = {"conversation": {"id": "a:chat-0"}, "serviceUrl": "http://127.0.0.1:9/moved/"}
    await references.remember(StoredReference("a:chat-0", "personal", "29:u0", again))  # forgotten, written anew
    assert await references.get("a:chat-0") == again
    assert [p.name for p in await references.find_people("person 0", 0, 5)] == ["Person 0"]


def test_the_lru_keeps_the_most_recently_used() -> None:
    recent: LRU[str, int] = LRU(2)
    assert recent.put("a", 1) == [] and recent.put("b", 2) == []
    assert recent.get("a") == 1  # "b" is now the oldest
    assert recent.put("c", 3) == [2]
    assert "b" not in recent and recent.get("b") is None and len(recent) == 2
    assert sorted(recent.clear()) == [1, 3] and len(recent) == 0


async def post_as(server: Running, activity: dict[str, Any], headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/api/messages", data=json.dumps(activity), headers=headers) as response:
        return response.status


@sqlite_only
@pytest.mark.parametrize(("headers", "status"), [
    ({"Content-Type": "text/plain; application/json"}, 415),  # a form or fetch() a page may send cross-site
    ({"Content-Type": "text/plain;x=application/json"}, 415),
    ({"Content-Type": "application/json", "Origin": "http://evil.example"}, 403),  # a browser's request
    ({"Content-Type": "application/json", "Origin": "null"}, 403),
    ({"Content-Type": "application/json", "Host": "attacker.example"}, 403),  # DNS rebinding
    ({"Content-Type": "application/json", "Host": "attacker.example:3978"}, 403),
])
async def test_the_emulator_refuses_what_a_web_page_can_send(db_url: str, connector: FakeConnector,
                                                             headers: dict[str, str], status: int) -> None:
    """The emulator is unauthenticated: only a local HTTP client (the Bot Framework Emulator sends no Origin)
    may drive it, not a page in the operator's browser, directly or through a name rebound to 127.0.0.1."""
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1") as running:
        activity = recorded("message_personal_command", serviceUrl=connector.url, text="station preview")
        assert await post_as(running, activity, headers) == status
        await asyncio.sleep(0.5)  # a turn would have replied by now
    assert connector.calls == []


@sqlite_only
async def test_the_emulator_answers_loopback_names(db_url: str, connector: FakeConnector) -> None:
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1") as running:
        port = running.url.rsplit(":", 1)[1]
        for n, host in enumerate((f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST")):
            activity = recorded("message_personal_command", id=f"170954372{n}", serviceUrl=connector.url)
            headers = {"Content-Type": "application/json; charset=utf-8", "Host": host}
            assert await post_as(running, activity, headers) == 201, host
        await connector.wait_for(4)


@sqlite_only
async def test_with_an_app_id_the_content_type_is_exact_too(db_url: str, connector: FakeConnector) -> None:
    async with running_app(db_url, demo=False, MicrosoftAppId="2d4b1c3a-9f5e-4f7a-8c1e-6a2b3c4d5e6f",
                           MicrosoftAppPassword="secret") as running:
        activity = recorded("message_personal_command", serviceUrl=connector.url)
        assert await post_as(running, activity, {"Content-Type": "text/plain; application/json"}) == 415
        assert await post_as(running, activity, {"Content-Type": "application/json",
                                                 "Origin": "http://evil.example"}) == 401  # the token decides
    assert connector.calls == []
