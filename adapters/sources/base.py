"""What a feedback tool's module provides, and the types every tool module shares.

A tool module builds one `Kind`. The route (`/api/sources/<name>[/<token>]`) and the pull runner do the rest:
limits, counting, storing through the feedback ingest (bot/feedback/ingest.py), cursors and back-off. A kind's
`translate` is pure (a recorded payload in, Earshot's ingest items out) so it is tested on the tool's published
example payloads; `verify`, `fetch` and `pull` are the tool's own authentication and API, kept real."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import ClientSession


class Refused(Exception):
    """The request is not from the tool (a missing or wrong signature, key or token): 401, counted, not stored."""


class BadPayload(ValueError):
    """Not a payload this tool sends (or one this kind can't read): 400 with the reason, nothing stored."""


class RetryAfter(Exception):
    """The tool's API asked us to wait (429, or 503 with Retry-After): the runner backs off this long."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"the tool asked to wait {seconds:g} s")
        self.seconds = seconds


class SourceError(Exception):
    """The tool's API failed in a way waiting won't fix by itself (bad credentials, 4xx, unreadable answer); the
    message is shown in `earshot sources list` as the source's last error. Never include a secret in it."""


@dataclass(frozen=True)
class Delivery:
    """One request as the tool sent it, before anything in it is trusted."""

    method: str
    headers: Mapping[str, str]
    """Case-insensitive (the route passes aiohttp's CIMultiDictProxy; tests may pass multidict.CIMultiDict)."""
    body: bytes
    query: Mapping[str, str]
    received_at: datetime
    """Aware UTC: for checks on a signed timestamp (Zendesk) and for items with no time of their own."""
    content_type: str = ""


@dataclass(frozen=True)
class SourceConfig:
    """A registered source as a kind sees it: secrets already decrypted (never log them)."""

    name: str
    """The registered name: every item this source delivers has it as its `source`."""
    kind: str
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Keyed by the `Option.name` of each secret option; "secret" is the `--secret` every kind may take."""
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    """A setting `earshot sources add KIND NAME` takes as `--<name>` (underscores become dashes)."""

    name: str
    help: str
    secret: bool = False
    """Stored encrypted with EARSHOT_SECRET_KEY and never printed back."""
    required: bool = False
    default: str | None = None
    file: bool = False
    """The value given is a path whose contents are stored (an App Store .p8 key, a Google service account)."""


@dataclass
class Translated:
    """What one delivery holds: items in Earshot's ingest contract (`bot/feedback/items.py`: id, source, text,
    score, score_type, customer{name,email,segment,plan,country}, tags, product_area, language, url, created_at
    as ISO 8601 UTC) with `source` set to the config's name; and ids whose answers sit behind the tool's API."""

    items: list[dict[str, Any]] = field(default_factory=list)
    fetch: list[str] = field(default_factory=list)
    """For `Kind.fetch` (SurveyMonkey, Qualtrics): the events name a response, the API holds its answers."""


@dataclass
class Page:
    """One pull from a tool's API."""

    items: list[dict[str, Any]]
    cursor: str | None
    """Where the next pull starts (the kind's own format, e.g. a JSON string); saved once the items are stored."""
    more: bool = False
    """Another page is ready now (the runner pulls it at once rather than at the next schedule)."""
    rejected: int = 0
    """Records of the page the kind could not read and skipped (counted as rejected, the rest still stored)."""


Verify = Callable[[Delivery, SourceConfig], None]
Translate = Callable[[Delivery, SourceConfig], Translated]
Fetch = Callable[["ClientSession", SourceConfig, list[str]], Awaitable[list[dict[str, Any]]]]
Pull = Callable[["ClientSession", SourceConfig, "str | None", datetime], Awaitable[Page]]


@dataclass(frozen=True)
class Kind:
    """One feedback tool. A webhook kind has `translate` (and `verify` unless the tool can only take a URL);
    a pull kind has `pull`; some have both (Delighted, Zendesk)."""

    name: str
    """As typed in `earshot sources add KIND`: lowercase, e.g. "typeform", "appstore"."""
    title: str
    options: tuple[Option, ...] = ()
    verify: Verify | None = None
    """Raises Refused. None: the tool can only be given a URL, so the source gets a secret one."""
    translate: Translate | None = None
    """Raises BadPayload. Pure: no I/O, no clock (use `Delivery.received_at`)."""
    fetch: Fetch | None = None
    pull: Pull | None = None
    pull_every: float = 900.0
    """Seconds between pulls when the API has nothing more (its rate limits are usually per hour or per day)."""
    handshake: frozenset[str] = frozenset()
    """Methods answered 200 with an empty body, so the tool accepts the URL (SurveyMonkey HEAD, Qualtrics GET)."""
    setup: str = ""
    """One or two lines printed after `earshot sources add`: where in the tool to paste the URL and secret."""

    @property
    def secret_url(self) -> bool:
        return self.translate is not None and self.verify is None
