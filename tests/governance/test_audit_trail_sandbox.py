"""Sign-ins to the sandbox, over HTTP: each browser session that traded the printed link is recorded once, as the
first person it acts as, and each person its page switches to ("You are") once; page reloads and API calls (a
vote) as someone already recorded write nothing."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.governance.audit_support import assert_chain_ok, entries, facts
from tests.support.server import Running, running_app


async def load_as(running: Running, browser: aiohttp.ClientSession, person: str) -> None:
    async with browser.get(f"{running.url}/sandbox/api/state", params={"as": person}) as response:
        assert response.status == 200 and (await response.json())["me"] == person


async def test_a_session_is_recorded_once_per_person_it_acts_as(tmp_path: Path) -> None:
    async with running_app(f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}") as running:
        db = running.runtime.db
        async with await running.sandbox_session() as browser:
            assert await entries(db) == []  # trading the link names no one yet
            for _ in range(5):  # the page reloads
                await load_as(running, browser, "ana")
            await load_as(running, browser, "ben")  # "You are": Ben
            await load_as(running, browser, "ana")  # and back: Ana was recorded already
            await load_as(running, browser, "ben")
            async with browser.post(f"{running.url}/sandbox/api/send",
                                    json={"as": "maria", "channel_id": "C-general", "text": "hello"}) as response:
                assert response.status == 200  # an API call as another person: the session's sign-in covers it
        async with await running.sandbox_session() as other:  # a second browser
            await load_as(running, other, "ben")
        assert [facts(e) for e in await entries(db)] == [
            ("sandbox:ana", "sandbox.signed_in", "sandbox:ana", {}),
            ("sandbox:ana", "sandbox.switched_person", "sandbox:ben", {}),
            ("sandbox:ben", "sandbox.signed_in", "sandbox:ben", {}),
        ]
        await assert_chain_ok(db, running.runtime.core.services.keys)


async def test_a_cookie_the_secret_did_not_sign_is_refused(tmp_path: Path) -> None:
    """The session id is signed: a made-up one (to act without a recorded sign-in) gets no further than none."""
    async with running_app(f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}") as running:
        async with await running.sandbox_session() as browser:
            (cookie,) = [c for c in browser.cookie_jar if c.key == running.guard.cookie]
        session, _, signature = cookie.value.partition(".")
        for forged in (f"other.{signature}", f"{session}.{'0' * len(signature)}", session, running.guard.token):
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
                client.cookie_jar.update_cookies({running.guard.cookie: forged})
                async with client.get(f"{running.url}/sandbox/api/state", params={"as": "ana"}) as response:
                    assert response.status == 401, forged
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            client.cookie_jar.update_cookies({running.guard.cookie: cookie.value})  # the real one, as a check
            async with client.get(f"{running.url}/sandbox/api/state", params={"as": "ana"}) as response:
                assert response.status == 200
        assert [e.action for e in await entries(running.runtime.db)] == ["sandbox.signed_in"]
