"""Google Play reviews, pulled from the Play Developer API's `reviews.list` (the reviews created or edited in the
last week, the most recently modified first).

Authentication: a service account's OAuth. A JWT signed RS256 with the account's private key (`iss` its email,
`scope` androidpublisher, `aud` the account's `token_uri`) is exchanged at `token_uri` for an access token, kept
until shortly before it expires.

Each review becomes one item: the user's comment (a title arrives before the body, separated by a tab: stored as
"Title\\n\\nBody"), the 1–5 stars as a score of type "rating", the author's name, `reviewerLanguage` as the
language, the time it was last modified in UTC, and the app version and device as tags. An edited review comes
back with the same reviewId and a later `lastModified`: the same item id, so the ingest updates the stored one."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import jwt

from adapters.sources.api_json import get_json, post_form_json
from adapters.sources.base import Kind, Option, Page, SourceConfig, SourceError
from adapters.sources.newest import Walk
from bot.feedback.languages import known_language

if TYPE_CHECKING:
    from aiohttp import ClientSession

API_URL = "https://androidpublisher.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS = 3600
EARLY = 60.0
"""A cached access token is renewed this long before Google says it expires."""
PAGE_SIZE = 100


@dataclass(frozen=True)
class ServiceAccount:
    email: str
    private_key: str = ""
    key_id: str | None = None
    token_uri: str = ""

    @classmethod
    def parse(cls, text: str) -> ServiceAccount:
        try:
            data = json.loads(text)
            account = cls(email=data["client_email"], private_key=data["private_key"],
                          key_id=data.get("private_key_id"), token_uri=data["token_uri"])
        except (ValueError, TypeError, KeyError):
            raise SourceError("the service account is not a Google service account key (JSON with client_email, "
                              "private_key and token_uri)") from None
        if not all(isinstance(v, str) for v in (account.email, account.private_key, account.token_uri)):
            raise SourceError("the service account's client_email, private_key and token_uri must be text")
        return account


class Tokens:
    """Access tokens by service account, reused until shortly before they expire."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, float]] = {}

    async def get(self, http: ClientSession, account: ServiceAccount) -> str:
        key = hashlib.sha256(f"{account.email}\n{account.token_uri}\n{account.private_key}".encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        answer = await post_form_json(http, account.token_uri, {"grant_type": GRANT,
                                                                "assertion": assertion(account)},
                                      "Google's token endpoint")
        access, lifetime = answer.get("access_token"), answer.get("expires_in", 3600)
        if not isinstance(access, str) or not access or not isinstance(lifetime, int | float):
            raise SourceError("Google's token endpoint answered without an access token")
        self._cache[key] = (access, time.monotonic() + max(0.0, float(lifetime) - EARLY))
        return access


TOKENS = Tokens()


def assertion(account: ServiceAccount, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    headers = {"kid": account.key_id} if account.key_id else None
    try:
        return jwt.encode({"iss": account.email, "scope": SCOPE, "aud": account.token_uri, "iat": issued,
                           "exp": issued + ASSERTION_SECONDS}, account.private_key, algorithm="RS256",
                          headers=headers)
    except (ValueError, TypeError, jwt.PyJWTError):
        raise SourceError("the service account's private_key is not an RSA private key") from None


def to_item(review: dict[str, Any], source: str) -> dict[str, Any]:
    """One review of `reviews.list` → an ingest item (raises SourceError on one without a user comment)."""
    review_id, comment, at = _parts(review)
    modified = datetime.fromtimestamp(at // 1_000_000_000, UTC).replace(microsecond=at % 1_000_000_000 // 1000)
    title, tab, body = (text if isinstance(text := comment.get("text"), str) else "").partition("\t")
    joined = "\n\n".join(p for p in (title.strip(), body.strip()) if p) if tab else title.strip()
    item: dict[str, Any] = {"id": review_id, "source": source, "text": joined,
                            "created_at": modified.isoformat(), "updated_at": modified.isoformat()}
    if comment.get("starRating") is not None:
        item["score"] = comment["starRating"]
        item["score_type"] = "rating"
    if review.get("authorName"):
        item["customer"] = {"name": review["authorName"]}
    language = comment.get("reviewerLanguage")
    if isinstance(language, str) and known_language(language):
        item["language"] = language
    tags = [f"{name}:{comment[key]}" for name, key in (("version", "appVersionName"), ("device", "device"))
            if comment.get(key)]
    if tags:
        item["tags"] = tags
    return item


def _parts(review: dict[str, Any]) -> tuple[str, dict[str, Any], int]:
    """The review's id, its user comment, and when that was last modified (nanoseconds since the epoch)."""
    try:
        comment = next(c["userComment"] for c in review["comments"] if isinstance(c, dict) and "userComment" in c)
        stamp = comment["lastModified"]
        at = int(stamp["seconds"]) * 1_000_000_000 + int(stamp.get("nanos") or 0)
        datetime.fromtimestamp(at // 1_000_000_000, UTC)  # within the years a datetime holds
        return str(review["reviewId"]), comment, at
    except (KeyError, TypeError, ValueError, OverflowError, OSError, StopIteration):
        raise SourceError("Google Play sent a review without reviewId or a user comment with lastModified") from None


async def pull(http: ClientSession, config: SourceConfig, cursor: str | None, now: datetime, *,
               tokens: Tokens = TOKENS) -> Page:
    """One page, most recently modified first, down to the newest review an earlier pull stored."""
    walk = Walk.load(cursor)
    account = ServiceAccount.parse(config.secrets["service_account"])
    access = await tokens.get(http, account)
    query = {"maxResults": str(PAGE_SIZE), **({"token": walk.next} if walk.next else {})}
    url = (f"{config.options.get('api_url', API_URL).rstrip('/')}/androidpublisher/v3/applications/"
           f"{quote(config.options['package'], safe='')}/reviews?{urlencode(query)}")
    body = await get_json(http, url, {"Authorization": f"Bearer {access}"}, "Google Play")
    reviews = body.get("reviews", [])
    if not isinstance(reviews, list):
        raise SourceError("Google Play answered with reviews that are not a list")
    items: list[dict[str, Any]] = []
    reached, rejected = False, 0
    for review in reviews:
        try:
            item = to_item(review, config.name)
        except SourceError:
            rejected += 1  # one unreadable review does not stop the others
            continue
        at = _parts(review)[2]
        if walk.stored(at, item["id"]):
            reached = True
            break
        if walk.walked(at, item["id"]):
            continue
        walk.note(at, item["id"])
        items.append(item)
    pagination = body.get("tokenPagination") if isinstance(body.get("tokenPagination"), dict) else {}
    next_token = pagination.get("nextPageToken")
    more = walk.turn(next_token if isinstance(next_token, str) and next_token else None, reached)
    return Page(items, walk.dump(), more, rejected)


KIND = Kind(
    name="googleplay", title="Google Play reviews",
    options=(
        Option("service_account", "the service account's JSON key file (Google Cloud → IAM → Service accounts → "
               "Keys), invited in Play Console with the 'Reply to reviews' permission", secret=True, required=True,
               file=True),
        Option("package", "the app's package name, e.g. com.example.app", required=True),
        Option("api_url", "the Play Developer API's address (change it only for a proxy)", default=API_URL),
    ),
    pull=pull, pull_every=900.0,
    setup="Nothing to paste into Play Console: Earshot reads the reviews of the last week every 15 minutes "
          "(the API allows 200 reads an hour per app).",
)
