"""Files for Teams users: the file-consent card, the invoke that answers it, the upload to the session Teams opens
in the person's OneDrive (a fake on loopback) and the file-info card; end to end with a real pulse export."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.teams.files import (
    CONSENT_CARD,
    INFO_CARD,
    Consent,
    UploadFailed,
    consent_activity,
    consent_of,
    info_activity,
    upload,
)
from tests.support.postgres import free_port
from tests.support.server import Running, running_app
from tests.teams.activities import as_received, recorded
from tests.teams.fake_connector import Call, FakeConnector, running_connector
from tests.teams.test_http import ANA, CHANNEL, _sent_message_id, post

NAME = "pulse-3-run-4.csv"


def test_an_allowed_file_carries_the_upload_session() -> None:
    consent = consent_of(as_received(recorded("invoke_file_consent")))
    assert consent is not None and consent.accepted
    assert (consent.file_id, consent.name, consent.file_type) == ("4f6c2a9e8b1d4c7fa3e5d0b2c9f8a761", NAME, "csv")
    assert consent.upload_url.startswith("https://contoso-my.sharepoint.com/") and "uploadSession" in \
        consent.upload_url
    assert consent.content_url.endswith("/Earshot/pulse-3-run-4.csv")
    assert consent.unique_id == "1150D938-8870-4044-9F2C-5BBDEBA70C9D"


def test_a_declined_file_and_other_activities() -> None:
    declined = recorded("invoke_file_consent")
    declined["value"] = {"type": "fileUpload", "action": "decline", "context": declined["value"]["context"]}
    assert consent_of(declined) == Consent(False, "4f6c2a9e8b1d4c7fa3e5d0b2c9f8a761", NAME, ANA, ANA)
    assert consent_of(recorded("invoke_vote")) is None
    assert consent_of(recorded("message_personal_command")) is None
    foreign = recorded("invoke_file_consent")
    foreign["value"]["context"] = "not ours"  # a consent card some other bot sent
    assert consent_of(foreign) is None


def test_the_consent_and_info_cards() -> None:
    (attachment,) = consent_activity("abc", NAME, 2_048, ANA).attachments
    assert (attachment.content_type, attachment.name) == (CONSENT_CARD, NAME)
    context = {"file": "abc", "name": NAME, "user": ANA}
    assert attachment.content == {"description": f"{NAME} from Earshot (2 KB)", "sizeInBytes": 2_048,
                                  "acceptContext": context, "declineContext": context}
    consent = consent_of(recorded("invoke_file_consent"))
    assert consent is not None
    (info,) = info_activity(consent).attachments
    assert (info.content_type, info.name, info.content_url) == (INFO_CARD, NAME, consent.content_url)
    assert info.content == {"uniqueId": consent.unique_id, "fileType": "csv"}


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with running_connector() as fake:
        yield fake


async def test_a_large_file_goes_up_in_fragments(connector: FakeConnector) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes in fragments of 4,096
    await upload(connector.upload_url("big.csv"), data, https_only=False, fragment=4_096)
    assert [u.content_range for u in connector.uploads] == [
        "bytes 0-4095/10240", "bytes 4096-8191/10240", "bytes 8192-10239/10240"]
    assert connector.uploaded("big.csv") == data


async def test_upload_failures_say_why(connector: FakeConnector) -> None:
    connector.upload_refusals.append(403)
    with pytest.raises(UploadFailed, match="HTTP 403"):
        await upload(connector.upload_url("x.csv"), b"a,b\n", https_only=False)
    for elsewhere in (connector.upload_url("x.csv"), "https://evil.example/upload", "https://sharepoint.com.evil/x",
                      "file:///etc/passwd"):  # with a real app id, only OneDrive over https
        with pytest.raises(UploadFailed, match="no OneDrive upload address"):
            await upload(elsewhere, b"a,b\n", https_only=True)
    with pytest.raises(UploadFailed, match="HTTP 307"):  # a redirect is not followed, with the file
        await upload(connector.upload_url("moved.csv"), b"a,b\n", https_only=False)
    assert not connector.uploaded("elsewhere.csv")
    with pytest.raises(UploadFailed, match="could not be reached"):
        await upload(f"http://127.0.0.1:{free_port()}/upload/x.csv", b"a,b\n", https_only=False)


@pytest.fixture
async def server(db_url: str) -> AsyncIterator[Running]:
    async with running_app(db_url, demo=False, EARSHOT_TEAMS_EMULATOR="1", EARSHOT_ADMINS=f"teams:{ANA}") as running:
        yield running


def at(connector: FakeConnector, name: str, **changes: Any) -> dict[str, Any]:
    return recorded(name, serviceUrl=connector.url, **changes)


def attachments(call: Call) -> list[dict[str, Any]]:
    return call.body.get("attachments") or [] if isinstance(call.body, dict) else []


async def posted(connector: FakeConnector, content_type: str, after: int = 0, conversation: str = "") -> Call:
    """The first message posted (in `conversation`, if given) after the first `after` with an attachment of
    that type (ten seconds at most)."""
    async with asyncio.timeout(10):
        while True:
            for call in connector.posts()[after:]:
                if conversation and call.conversation_id != conversation:
                    continue
                if any(a.get("contentType") == content_type for a in attachments(call)):
                    return call
            await connector.wait_for(len(connector.writes()) + 1)


async def export_to_teams(server: Running, connector: FakeConnector, run: int = 1) -> tuple[Call, dict[str, Any]]:
    """Ana launches a named pulse in the channel, answers it and asks for the CSV: returns the consent card's
    message and its attachment."""
    connector.members = [{"id": ANA, "name": "Ana Souza"}]  # a channel pulse takes answers from its members
    before = len(connector.posts())
    status, _ = await post(server, at(connector, "message_channel_command", id=f"17095438{run}0001",
                                      text='<at>Earshot</at> pulse "Ship on Friday?" yesno named'))
    assert status == 201
    card = await posted(connector, "application/vnd.microsoft.card.adaptive", before, CHANNEL)
    yes = next(a for s in card.card["body"] if s.get("type") == "ActionSet" for a in s["actions"]
               if "Yes" in a["title"])
    status, _ = await post(server, at(connector, "invoke_vote", id=f"f:vote-{run}", replyToId=await _sent_message_id(
        server), value={"action": {"type": "Action.Execute", "verb": yes["verb"], "data": yes["data"]},
                        "trigger": "manual"}))
    assert status == 200
    before = len(connector.posts())
    await post(server, at(connector, "message_channel_command", id=f"17095438{run}0002",
                          text="<at>Earshot</at> pulse export"))
    message = await posted(connector, CONSENT_CARD, before)
    (consent,) = [a for a in attachments(message) if a["contentType"] == CONSENT_CARD]
    return message, consent


def answer(connector: FakeConnector, consent: dict[str, Any], action: str = "accept",
           **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": consent["content"]["acceptContext"]}
    if action == "accept":
        value["uploadInfo"] = {"contentUrl": f"https://contoso-my.sharepoint.com/personal/ana/{consent['name']}",
                               "name": consent["name"], "uploadUrl": connector.upload_url(consent["name"]),
                               "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C9D", "fileType": "csv"}
    return at(connector, "invoke_file_consent", value=value, **changes)


async def test_a_pulse_export_reaches_a_teams_user_as_a_file(server: Running, connector: FakeConnector) -> None:
    message, consent = await export_to_teams(server, connector)
    assert message.conversation_id.startswith("a:created-")  # Ana's 1:1 chat, opened for it
    name = consent["name"]
    assert name.startswith("pulse-") and name.endswith(".csv")
    assert consent["content"]["sizeInBytes"] > 0
    texts = json.dumps([c.body for c in connector.posts()], ensure_ascii=False)
    assert "choose Allow on the file card below" in texts

    before = len(connector.posts())
    status, _ = await post(server, answer(connector, consent))
    assert status == 200
    csv = connector.uploaded(name).decode("utf-8")
    assert "Ship on Friday?" in csv and "Ana Souza" in csv and "Yes" in csv
    assert len(csv.encode("utf-8")) == consent["content"]["sizeInBytes"]
    info = await posted(connector, INFO_CARD, before)
    (card,) = attachments(info)
    assert card["contentUrl"].endswith(name) and card["content"]["fileType"] == "csv"

    status, _ = await post(server, answer(connector, consent))  # Teams resends the invoke
    assert status == 200
    await asyncio.sleep(0.3)
    assert len([u for u in connector.uploads if u.name == name]) == 1  # uploaded once


async def test_a_declined_or_failed_upload_is_explained(server: Running, connector: FakeConnector) -> None:
    _, consent = await export_to_teams(server, connector)
    before = len(connector.posts())
    connector.upload_refusals.append(403)
    status, _ = await post(server, answer(connector, consent))
    assert status == 200
    reply = connector.posts()[-1]  # answered within the invoke's turn
    assert len(connector.posts()) == before + 1
    assert "couldn't put" in json.dumps(reply.body) and "HTTP 403" in json.dumps(reply.body)

    _, again = await export_to_teams(server, connector, run=2)
    status, _ = await post(server, answer(connector, again, "decline", id="f:declined"))
    assert status == 200
    reply = connector.posts()[-1]
    assert "won't send" in json.dumps(reply.body, ensure_ascii=False) and again["name"] in json.dumps(reply.body)


async def test_only_the_person_offered_the_file_gets_it_and_a_decline_leaves_allow_open(
        server: Running, connector: FakeConnector) -> None:
    _, consent = await export_to_teams(server, connector)
    stranger = answer(connector, consent, id="f:stranger")
    stranger["from"] = {"id": "29:someone-else", "name": "Mallory"}
    before = len(connector.posts())
    assert (await post(server, stranger))[0] == 200
    assert connector.uploads == [] and len(connector.posts()) == before  # nothing, not even a note
    assert (await post(server, answer(connector, consent, "decline", id="f:first-no")))[0] == 200
    assert "won't send" in json.dumps(connector.posts()[-1].body, ensure_ascii=False)
    assert (await post(server, answer(connector, consent, id="f:then-yes")))[0] == 200
    assert connector.uploaded(consent["name"])  # the decline didn't use up the allow
