"""App Store Connect customer reviews, pulled from `GET /v1/apps/{id}/customerReviews` newest first.

Authentication: a JSON Web Token signed ES256 with the team's App Store Connect API key (the .p8 file), its
key id in the header and the issuer id as `iss`, valid for less than 20 minutes, audience "appstoreconnect-v1".

Each review becomes one item: title and body as "Title\\n\\nBody", the 1–5 stars as a score of type "rating"
(the 0–5 scale of review stars; Trustpilot and Google Play stars are stored the same way, so `score_type:rating`
filters match every store), the nickname as the customer's name, the territory (ISO 3166 alpha-3, "USA") as
the country, and `createdDate` in UTC. Apple says nothing of the review's language: the ingest detects it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jwt

from adapters.sources.api_json import get_json
from adapters.sources.base import Kind, Option, Page, SourceConfig, SourceError
from adapters.sources.newest import Walk

if TYPE_CHECKING:
    from aiohttp import ClientSession

API_URL = "https://api.appstoreconnect.apple.com"
AUDIENCE = "appstoreconnect-v1"
TOKEN_SECONDS = 15 * 60
"""Apple refuses tokens that live 20 minutes or more; a fresh one is signed for every pull."""
PAGE_SIZE = 200


def token(config: SourceConfig, now: float | None = None) -> str:
    """The bearer token for one pull."""
    issued = int(time.time() if now is None else now)
    try:
        return jwt.encode({"iss": config.options["issuer_id"], "iat": issued, "exp": issued + TOKEN_SECONDS,
                           "aud": AUDIENCE},
                          config.secrets["private_key"], algorithm="ES256",
                          headers={"kid": config.options["key_id"], "typ": "JWT"})
    except (ValueError, TypeError, jwt.PyJWTError):
        raise SourceError("the private key is not an App Store Connect API key (.p8, an EC P-256 key)") from None


def to_item(review: dict[str, Any], source: str) -> dict[str, Any]:
    """One `customerReviews` resource → an ingest item (raises SourceError on a resource that isn't one)."""
    try:
        attributes = review["attributes"]
        review_id = str(review["id"])
        created = _created(attributes["createdDate"])
    except (KeyError, TypeError, ValueError):
        raise SourceError("App Store Connect sent a review without id, attributes or createdDate") from None
    title, body = (value.strip() if isinstance(value := attributes.get(key), str) else "" for key in ("title", "body"))
    item: dict[str, Any] = {
        "id": review_id, "source": source, "text": "\n\n".join(part for part in (title, body) if part),
        "created_at": created.isoformat(),
    }
    if attributes.get("rating") is not None:
        item["score"] = attributes["rating"]
        item["score_type"] = "rating"
    customer = {key: value for key, value in (("name", attributes.get("reviewerNickname")),
                                              ("country", attributes.get("territory"))) if value}
    if customer:
        item["customer"] = customer
    return item


def _created(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("createdDate has no offset")
    return moment.astimezone(UTC)


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


async def pull(http: ClientSession, config: SourceConfig, cursor: str | None, now: datetime) -> Page:
    """One page, newest first, down to the newest review an earlier pull stored."""
    walk = Walk.load(cursor)
    base = config.options.get("api_url", API_URL).rstrip("/")
    url = walk.next or (f"{base}/v1/apps/{quote(config.options['app_id'], safe='')}/customerReviews"
                        f"?sort=-createdDate&limit={PAGE_SIZE}")
    if not url.startswith(base + "/"):
        raise SourceError("App Store Connect's next page is not on the configured API URL")
    body = await get_json(http, url, {"Authorization": f"Bearer {token(config)}"}, "App Store Connect")
    data = body.get("data")
    if not isinstance(data, list):
        raise SourceError("App Store Connect answered without a list of reviews")
    items: list[dict[str, Any]] = []
    reached, rejected = False, 0
    for review in data:
        try:
            item = to_item(review, config.name)
        except SourceError:
            rejected += 1  # one unreadable review does not stop the others
            continue
        at = _nanos(datetime.fromisoformat(item["created_at"]))
        if walk.stored(at, item["id"]):
            reached = True
            break
        if walk.walked(at, item["id"]):
            continue
        walk.note(at, item["id"])
        items.append(item)
    links = body.get("links") if isinstance(body.get("links"), dict) else {}
    more = walk.turn(links.get("next") if isinstance(links.get("next"), str) else None, reached)
    return Page(items, walk.dump(), more, rejected)


KIND = Kind(
    name="appstore", title="App Store Connect customer reviews",
    options=(
        Option("key_id", "the API key's Key ID (App Store Connect → Users and Access → Integrations)", required=True),
        Option("issuer_id", "the Issuer ID shown above the keys on the same page", required=True),
        Option("private_key", "the key's .p8 file, downloaded once when the key was made", secret=True,
               required=True, file=True),
        Option("app_id", "the app's Apple ID (App Store Connect → the app → App Information)", required=True),
        Option("api_url", "App Store Connect API's address (change it only for a proxy)", default=API_URL),
    ),
    pull=pull, pull_every=900.0,
    setup="Nothing to paste into App Store Connect: Earshot reads the reviews every 15 minutes with the key "
          "(a Team key with the Customer Support role is enough).",
)
