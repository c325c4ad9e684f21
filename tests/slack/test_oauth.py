"""Multi-workspace installs over OAuth, through the real app on loopback: /slack/install → Slack's authorize page
(state in a cookie) → /slack/oauth_redirect → oauth.v2.access on the fake Web API → the install in our database;
then each workspace's requests are answered, and its deliveries posted, with its own bot token."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import text

from adapters.slack.clients import Installations, Team
from adapters.slack.oauth import (
    REFUSED_REQUEST,
    SealedInstallationStore,
    installation_store,
    manifest_bot_scopes,
)
from adapters.slack.platform import web_client
from bot.adapter import DeliveryError
from bot.cards import Card, Heading
from bot.events import Target
from storage.secrets import SecretBox
from tests.slack import signing
from tests.slack.fake_api import FakeSlack
from tests.slack.signing import SECRET
from tests.slack.test_e2e_plumbing import post, until
from tests.slack.test_translate import load
from tests.support.server import Running, running_app

pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # slack_sdk's

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret"
REDIRECT = "https://earshot.example.com/slack/oauth_redirect"
COOKIE = "slack-app-oauth-state"
TEAM_A, ADMIN_A, CHANNEL_A, TOKEN_A = "TA0000001", "UA0000001", "CA0000001", "xoxb-team-a"
TEAM_B, ADMIN_B, CHANNEL_B, TOKEN_B = "TB0000002", "UB0000002", "CB0000002", "xoxb-team-b"
TEAM_C, ADMIN_C, CHANNEL_C, TOKEN_C = "TC0000003", "UC0000003", "CC0000003", "xoxb-team-c"
SECRET_KEY = "an-earshot-test-passphrase-of-40-characters"


@pytest.fixture
async def server(db_url: str, fake: FakeSlack) -> AsyncIterator[Running]:
    async with running_app(db_url, demo=False, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
                           SLACK_SIGNING_SECRET=SECRET, SLACK_REDIRECT_URI=REDIRECT, SLACK_API_URL=fake.api_url,
                           EARSHOT_ADMINS=f"slack:{ADMIN_A},slack:{ADMIN_B}",
                           EARSHOT_INGEST_TOKEN="ingest-secret", SLACK_ALLOWED_TEAMS=f"{TEAM_A},{TEAM_B}",
                           EARSHOT_SECRET_KEY=SECRET_KEY) as running:
        yield running


async def get(server: Running, path: str, state_cookie: str | None = None) -> aiohttp.ClientResponse:
    headers = {"Cookie": f"{COOKIE}={state_cookie}"} if state_cookie else {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session, session.get(
            server.url + path, headers=headers, allow_redirects=False) as response:
        await response.read()
        return response


async def start_install(server: Running) -> str:
    """GET /slack/install: a redirect to Slack's authorize page asking for the manifest's scopes; the state."""
    response = await get(server, "/slack/install")
    assert response.status == 302
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://slack.com/oauth/v2/authorize"
    assert query["client_id"] == [CLIENT_ID] and query["redirect_uri"] == [REDIRECT]
    assert query["scope"] == [",".join(manifest_bot_scopes())] and "user_scope" not in query
    cookie = SimpleCookie(response.headers["Set-Cookie"])[COOKIE]
    assert cookie.value == query["state"][0] and cookie["httponly"] and cookie["secure"]
    return cookie.value


async def install(server: Running, fake: FakeSlack, team: str, token: str, installer: str) -> None:
    code = f"code-{team}"
    fake.add_install(code, team, token, installer=installer)
    state = await start_install(server)
    response = await get(server, "/slack/oauth_redirect?" + urlencode({"code": code, "state": state}), state)
    assert response.status == 200


async def rows(server: Running, sql: str) -> list[tuple[object, ...]]:
    async with server.runtime.db.engine.connect() as connection:
        return [tuple(row) for row in (await connection.execute(text(sql))).all()]


async def test_an_install_is_stored_in_our_database(server: Running, fake: FakeSlack) -> None:
    await install(server, fake, TEAM_A, TOKEN_A, ADMIN_A)
    (exchange,) = fake.of("oauth.v2.access")
    assert exchange.args["code"] == f"code-{TEAM_A}" and exchange.args["redirect_uri"] == REDIRECT
    assert exchange.token == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert await rows(server, "SELECT client_id, team_id, bot_user_id FROM slack_bots") == [
        (CLIENT_ID, TEAM_A, "UBOT0001")]
    assert await rows(server, "SELECT team_id, user_id FROM slack_installations") == [(TEAM_A, ADMIN_A)]
    ((stored_bot,),), ((stored_install,),) = (await rows(server, "SELECT bot_token FROM slack_bots"),
                                              await rows(server, "SELECT bot_token FROM slack_installations"))
    box = SecretBox([SECRET_KEY])
    for stored in (stored_bot, stored_install):  # encrypted at rest, a different ciphertext each time
        assert isinstance(stored, str) and TOKEN_A not in stored and box.open(stored) == TOKEN_A
    assert stored_bot != stored_install
    assert await rows(server, "SELECT state FROM slack_oauth_states") == []  # consumed


async def test_a_bad_or_missing_state_is_refused(server: Running, fake: FakeSlack) -> None:
    fake.add_install("code-1", TEAM_A, TOKEN_A, installer=ADMIN_A)
    never_issued = "7f1c9e0a-0000-4000-8000-000000000000"
    issued = await start_install(server)
    for query, cookie, status in [
        ({"code": "code-1"}, None, 400),  # no state at all
        ({"code": "code-1", "state": issued}, None, 400),  # not the browser that started the install
        ({"code": "code-1", "state": issued}, "another-state", 400),
        ({"code": "code-1", "state": never_issued}, never_issued, 401),  # a state Earshot never issued
    ]:
        assert (await get(server, "/slack/oauth_redirect?" + urlencode(query), cookie)).status == status
    assert fake.of("oauth.v2.access") == [] and await rows(server, "SELECT id FROM slack_bots") == []
    good = {"code": "code-1", "state": issued}
    assert (await get(server, "/slack/oauth_redirect?" + urlencode(good), issued)).status == 200
    assert (await get(server, "/slack/oauth_redirect?" + urlencode(good), issued)).status == 401  # used once


async def test_each_workspace_is_answered_and_delivered_with_its_own_token(server: Running,
                                                                          fake: FakeSlack) -> None:
    await install(server, fake, TEAM_A, TOKEN_A, ADMIN_A)
    await install(server, fake, TEAM_B, TOKEN_B, ADMIN_B)
    for team, admin, channel, token in [(TEAM_A, ADMIN_A, CHANNEL_A, TOKEN_A), (TEAM_B, ADMIN_B, CHANNEL_B, TOKEN_B)]:
        add = {**load("command_station_help"), "team_id": team, "channel_id": channel, "user_id": admin,
               "text": "add all", "trigger_id": f"t-{team}", "response_url": fake.response_url(team)}
        assert await post(server, *signing.command(add)) == (200, "")
        confirmed = await until(fake, "chat.postMessage", lambda c, channel=channel: c.args["channel"] == channel)
        assert confirmed.token == token

    home = load("event_app_home_opened")
    home |= {"team_id": TEAM_B, "context_team_id": TEAM_B, "event_id": "Ev0HOMEB",
             "authorizations": [{**home["authorizations"][0], "team_id": TEAM_B}]}
    home["event"] |= {"user": ADMIN_B}
    assert (await post(server, *signing.event(home)))[0] == 200
    (publish,) = await fake.wait_for("views.publish")
    assert publish.args["user_id"] == ADMIN_B and publish.token == TOKEN_B

    item = {"id": "zd-1", "source": "zendesk", "text": "checkout crashes", "score": 2, "score_type": "csat"}
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/api/feedback", json=item, headers={"Authorization": "Bearer ingest-secret"}) as answer:
        assert answer.status == 202
    for channel, token in [(CHANNEL_A, TOKEN_A), (CHANNEL_B, TOKEN_B)]:
        quote = await until(fake, "chat.postMessage",
                            lambda c, channel=channel: c.args["channel"] == channel and "checkout" in c.args["text"])
        assert quote.token == token

    # A worker in another process learns each conversation's workspace from the database.
    db = server.runtime.db
    worker = Installations(web_client(None, fake.api_url), installation_store(server.runtime.settings, db.engine), db)
    assert await worker.team_of(CHANNEL_B) == Team(None, TEAM_B)
    assert (await worker.client(await worker.team_of(ADMIN_A))).token == TOKEN_A


async def test_an_unseen_conversation_goes_to_the_only_installation(server: Running, fake: FakeSlack) -> None:
    adapter = server.runtime.adapters["slack"]
    card = Card("hello", (Heading("hello"),))
    with pytest.raises(DeliveryError) as nothing_installed:
        await adapter.send(Target.channel("slack", "CNEW00001"), card)
    assert not nothing_installed.value.retryable
    await install(server, fake, TEAM_A, TOKEN_A, ADMIN_A)
    await adapter.send(Target.channel("slack", "CNEW00001"), card)
    assert fake.of("chat.postMessage")[-1].token == TOKEN_A
    await install(server, fake, TEAM_B, TOKEN_B, ADMIN_B)
    with pytest.raises(DeliveryError) as ambiguous:
        await adapter.send(Target.channel("slack", "CNEW00002"), card)
    assert ambiguous.value.reason.startswith("workspace_unknown") and not ambiguous.value.retryable


async def test_a_workspace_outside_the_allow_list_gets_a_page_and_nothing_is_stored(server: Running,
                                                                                    fake: FakeSlack) -> None:
    fake.add_install("code-c", TEAM_C, TOKEN_C, installer=ADMIN_C)
    fake.installs["code-c"]["team"]["name"] = "<b>Rival</b> & co"
    state = await start_install(server)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session, session.get(
            server.url + "/slack/oauth_redirect?" + urlencode({"code": "code-c", "state": state}),
            headers={"Cookie": f"{COOKIE}={state}"}, allow_redirects=False) as response:
        page = await response.text()
        assert response.status == 403 and response.content_type == "text/html"
    assert f"This Earshot is not set up for the workspace &lt;b&gt;Rival&lt;/b&gt; &amp; co ({TEAM_C})" in page
    assert f"<code>{TEAM_C}</code> to <code>SLACK_ALLOWED_TEAMS</code>" in page and "<b>Rival" not in page
    assert await rows(server, "SELECT id FROM slack_bots") == []
    assert await rows(server, "SELECT id FROM slack_installations") == []
    (uninstall,) = fake.of("apps.uninstall")  # Slack installed it there: take it out again
    assert uninstall.token == TOKEN_C and uninstall.args["client_id"] == CLIENT_ID
    await install(server, fake, TEAM_A, TOKEN_A, ADMIN_A)  # an allowed one still gets in
    assert await rows(server, "SELECT team_id FROM slack_bots") == [(TEAM_A,)]


async def test_requests_from_a_workspace_outside_the_allow_list_are_refused_even_if_installed(
        server: Running, fake: FakeSlack) -> None:
    """An install stored before the allow-list (or by hand) does not let its workspace in."""
    settings = server.runtime.settings
    earlier = SealedInstallationStore(CLIENT_ID, server.runtime.db.engine, SecretBox(settings.secret_keys), {TEAM_C})
    fake.add_install("code-c", TEAM_C, TOKEN_C, installer=ADMIN_C)
    await earlier.async_save(Installation(app_id="A0EARSHOT1", team_id=TEAM_C, user_id=ADMIN_C, bot_token=TOKEN_C,
                                          bot_id="BBOT0001", bot_user_id="UBOT0001"))
    await install(server, fake, TEAM_A, TOKEN_A, ADMIN_A)

    command = {**load("command_station_help"), "team_id": TEAM_C, "channel_id": CHANNEL_C, "user_id": ADMIN_C,
               "text": "preview", "response_url": fake.response_url(TEAM_C)}
    assert await post(server, *signing.command(command)) == (200, REFUSED_REQUEST)
    vote = load("block_actions_vote")
    vote["team"] = {"id": TEAM_C, "domain": "rival"}
    vote["user"] = {**vote["user"], "id": ADMIN_C, "team_id": TEAM_C}
    assert await post(server, *signing.interaction(vote)) == (200, REFUSED_REQUEST)
    for team, user, event_id in [(TEAM_C, ADMIN_C, "Ev0HOMEC"), (TEAM_A, ADMIN_A, "Ev0HOMEA")]:
        home = load("event_app_home_opened")
        home |= {"team_id": team, "context_team_id": team, "event_id": event_id,
                 "authorizations": [{**home["authorizations"][0], "team_id": team}]}
        home["event"] |= {"user": user}
        assert (await post(server, *signing.event(home)))[0] == 200
    (publish,) = await fake.wait_for("views.publish")  # workspace A's, and only that
    assert publish.args["user_id"] == ADMIN_A and publish.token == TOKEN_A
    assert not [c for c in fake.calls if c.token == TOKEN_C] and fake.responses == []
