"""Files for Teams users. Teams takes a bot's file only in a 1:1 chat and only with the person's consent: the bot
posts a file-consent card; when they allow it, Teams opens an upload session in their OneDrive and sends its URL
in a `fileConsent/invoke`; the bot puts the bytes there and posts a file-info card that opens the file.

The translation of the invoke and the cards are pure; `upload` is the one network call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from botbuilder.schema import Activity, ActivityTypes, Attachment

from adapters.teams.translate import json_dict, json_str

CONSENT_CARD = "application/vnd.microsoft.teams.card.file.consent"
INFO_CARD = "application/vnd.microsoft.teams.card.file.info"
FILE_CONSENT = "fileConsent/invoke"
FRAGMENT_BYTES = 10 * 327_680
"""OneDrive upload sessions take fragments in multiples of 320 KiB (the last excepted), each under 60 MiB."""
UPLOAD_TIMEOUT_S = 60.0
ONEDRIVE_HOSTS = (".sharepoint.com", ".sharepoint.us", ".sharepoint-mil.us", ".sharepoint.de", ".sharepoint.cn")
"""Where OneDrive for Business upload sessions live (commercial and sovereign clouds)."""


@dataclass(frozen=True)
class Consent:
    """A person's answer to a file-consent card; the upload fields only when they allowed it."""

    accepted: bool
    file_id: str
    name: str
    user_id: str
    """Who the card was offered to (from its context) and who answered it: they must be the same."""
    answered_by: str
    upload_url: str = ""
    content_url: str = ""
    unique_id: str = ""
    file_type: str = ""


class UploadFailed(Exception):
    """The file did not reach the person's OneDrive; the message says why, in words for them."""


def consent_of(activity: dict[str, Any]) -> Consent | None:
    """The answer carried by a `fileConsent/invoke`, or None for any other activity (or one without our file)."""
    if activity.get("type") != "invoke" or activity.get("name") != FILE_CONSENT:
        return None
    value = json_dict(activity.get("value"))
    context = json_dict(value.get("context"))
    file_id = json_str(context.get("file"))
    if not file_id:
        return None
    name = json_str(context.get("name")) or "file"
    offered_to, answered_by = json_str(context.get("user")), json_str(json_dict(activity.get("from")).get("id"))
    if value.get("action") != "accept":
        return Consent(False, file_id, name, offered_to, answered_by)
    info = json_dict(value.get("uploadInfo"))
    return Consent(True, file_id, json_str(info.get("name")) or name, offered_to, answered_by,
                   upload_url=json_str(info.get("uploadUrl")),
                   content_url=json_str(info.get("contentUrl")), unique_id=json_str(info.get("uniqueId")),
                   file_type=json_str(info.get("fileType")))


def size_text(size: int) -> str:
    """A file size as people read it: 812 bytes, 14 KB, 3.2 MB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def consent_activity(file_id: str, name: str, size: int, user_id: str) -> Activity:
    """The card that asks the person to allow the file; Teams shows its name, size and Allow/Decline."""
    context = {"file": file_id, "name": name, "user": user_id}
    return Activity(type=ActivityTypes.message, summary=f"File: {name}"[:200], attachments=[Attachment(
        content_type=CONSENT_CARD, name=name,
        content={"description": f"{name} from Earshot ({size_text(size)})", "sizeInBytes": size,
                 "acceptContext": context, "declineContext": context})])


def info_activity(consent: Consent) -> Activity:
    """The uploaded file in the chat: a card that opens it from the person's OneDrive."""
    return Activity(type=ActivityTypes.message, summary=f"File: {consent.name}"[:200], attachments=[Attachment(
        content_type=INFO_CARD, name=consent.name, content_url=consent.content_url,
        content={"uniqueId": consent.unique_id, "fileType": consent.file_type})])


async def upload(url: str, data: bytes, *, https_only: bool, fragment: int = FRAGMENT_BYTES,
                 timeout_s: float = UPLOAD_TIMEOUT_S) -> None:
    """PUT the bytes to an upload session, fragment by fragment: OneDrive answers 202 until the last part, then
    200 or 201. Only to OneDrive over https (`https_only`) unless Teams' requests go unauthenticated (the
    Emulator, tests); never following a redirect elsewhere."""
    parts = urlsplit(url)
    onedrive = parts.scheme == "https" and (parts.hostname or "").endswith(ONEDRIVE_HOSTS)
    if not onedrive and (https_only or parts.scheme not in ("http", "https")):
        raise UploadFailed("Teams gave no OneDrive upload address")
    if not data:
        raise UploadFailed("the file is empty")
    total = len(data)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http:
            for start in range(0, total, fragment):
                part = data[start:start + fragment]
                headers = {"Content-Range": f"bytes {start}-{start + len(part) - 1}/{total}"}
                async with http.put(url, data=part, headers=headers, allow_redirects=False) as response:
                    if response.status not in (200, 201, 202):
                        raise UploadFailed(f"OneDrive answered HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as error:
        raise UploadFailed(f"OneDrive could not be reached ({type(error).__name__})") from None
