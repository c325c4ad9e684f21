"""Fake App Store Connect and Google Play APIs on loopback, checking credentials the way the real ones do: the
App Store's ES256 token and Google's RS256 assertion are verified with the PUBLIC key of a pair made per test
(no private key is ever kept in the repository)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEY_ID = "2X9R4HXF34"
ISSUER_ID = "57246542-96fe-1a63-e053-0824d011072a"
APP_ID = "682658836"
PACKAGE = "com.example.app"
CLIENT_EMAIL = "earshot@example-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"


def pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass
class Failures:
    """Answers to give instead of the real one, first to last: (status, headers)."""

    queue: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def next(self) -> web.Response | None:
        if not self.queue:
            return None
        status, headers = self.queue.pop(0)
        return web.json_response({"errors": [{"status": str(status), "title": "Fake failure"}]}, status=status,
                                 headers=headers)


class FakeAppStore:
    """`GET /v1/apps/{id}/customerReviews`: `reviews` newest first, `page_size` a page, `links.next` by offset."""

    def __init__(self, page_size: int = 200) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.reviews: list[dict[str, Any]] = []
        self.page_size = page_size
        self.requests: list[str] = []
        self.served: list[str] = []
        self.failures = Failures()
        self.url = ""

    @property
    def private_key(self) -> str:
        return pem(self.key)

    def add(self, review_id: str, created: str, *, rating: int = 4, title: str | None = "Title",
            body: str | None = "Body", territory: str = "USA", nickname: str = "Anne Johnson") -> None:
        """A review newer than every other (the API lists by -createdDate)."""
        self.reviews.insert(0, {"type": "customerReviews", "id": review_id, "attributes": {
            "rating": rating, "title": title, "body": body, "reviewerNickname": nickname, "createdDate": created,
            "territory": territory}})

    def _verify(self, request: web.Request) -> str | None:
        """Why Apple would refuse the request's token, or None."""
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return "no bearer token"
        token = auth.removeprefix("Bearer ")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.key.public_key(), algorithms=["ES256"], audience="appstoreconnect-v1",
                                issuer=ISSUER_ID, options={"require": ["iss", "iat", "exp", "aud"]})
        except jwt.PyJWTError as error:
            return f"bad token: {error}"
        if header.get("kid") != KEY_ID or header.get("typ") != "JWT":
            return "wrong kid or typ"
        if claims["exp"] - claims["iat"] > 20 * 60 or claims["iat"] > time.time() + 60:
            return "token lifetime over 20 minutes"
        return None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        if (why := self._verify(request)) is not None:
            return web.json_response({"errors": [{"status": "401", "code": "NOT_AUTHORIZED",
                                                  "title": "Authentication credentials are missing or invalid.",
                                                  "detail": f"Provide a properly configured token ({why[:40]})"}]},
                                     status=401)
        if (failure := self.failures.next()) is not None:
            return failure
        if request.match_info["app"] != APP_ID or request.query.get("sort") != "-createdDate":
            return web.json_response({"errors": [{"status": "404", "title": "Not found"}]}, status=404)
        offset = int(request.query.get("cursor", "0"))
        limit = min(int(request.query.get("limit", "50")), self.page_size)
        page = self.reviews[offset:offset + limit]
        self.served.extend(r["id"] for r in page)
        base = f"{self.url}/v1/apps/{APP_ID}/customerReviews"
        links = {"self": f"{base}?{request.query_string}"}
        if offset + limit < len(self.reviews):
            links["next"] = f"{base}?sort=-createdDate&limit={limit}&cursor={offset + limit}"
        return web.json_response({"data": page, "links": links,
                                  "meta": {"paging": {"total": len(self.reviews), "limit": limit}}})


class FakeGooglePlay:
    """The OAuth token endpoint and `reviews.list` (most recently modified first, `nextPageToken` by offset)."""

    def __init__(self, page_size: int = 100) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.reviews: list[dict[str, Any]] = []
        self.page_size = page_size
        self.tokens_issued: list[str] = []
        self.requests: list[str] = []
        self.served: list[str] = []
        self.failures = Failures()
        self.url = ""

    def service_account(self, **changes: str) -> str:
        return json.dumps({"type": "service_account", "project_id": "example-project",
                           "private_key_id": "1234567890abcdef", "private_key": pem(self.key),
                           "client_email": CLIENT_EMAIL, "client_id": "123456789012345678901",
                           "token_uri": f"{self.url}/token", **changes})

    def add(self, review_id: str, seconds: int, text: str, *, stars: int = 4, language: str | None = "en",
            author: str = "Jane Bloggs", nanos: int = 0) -> None:
        """A review (or an edit of one) modified after every other: it moves to the top of the list."""
        self.reviews = [r for r in self.reviews if r["reviewId"] != review_id]
        comment: dict[str, Any] = {"text": text, "lastModified": {"seconds": str(seconds), "nanos": nanos},
                                   "starRating": stars}
        if language:
            comment["reviewerLanguage"] = language
        self.reviews.insert(0, {"reviewId": review_id, "authorName": author,
                                "comments": [{"userComment": comment}]})

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = jwt.decode(str(form.get("assertion", "")), self.key.public_key(), algorithms=["RS256"],
                                audience=f"{self.url}/token", issuer=CLIENT_EMAIL,
                                options={"require": ["iss", "aud", "iat", "exp", "scope"]})
        except jwt.PyJWTError:
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                                     status=400)
        if claims["scope"] != SCOPE or claims["exp"] - claims["iat"] > 3600:
            return web.json_response({"error": "invalid_scope"}, status=400)
        access = f"ya29.fake-{len(self.tokens_issued)}"
        self.tokens_issued.append(access)
        return web.json_response({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    async def list(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens_issued:
            return web.json_response({"error": {"code": 401, "message": "Request had invalid authentication "
                                                "credentials.", "status": "UNAUTHENTICATED"}}, status=401)
        if (failure := self.failures.next()) is not None:
            return failure
        if request.match_info["package"] != PACKAGE:
            return web.json_response({"error": {"code": 404, "message": "Package not found"}}, status=404)
        offset = int(request.query.get("token", "0"))
        limit = min(int(request.query.get("maxResults", "10")), self.page_size)
        page = self.reviews[offset:offset + limit]
        self.served.extend(r["reviewId"] for r in page)
        body: dict[str, Any] = {"reviews": page, "pageInfo": {"totalResults": len(self.reviews),
                                                              "resultPerPage": limit, "startIndex": offset}}
        if offset + limit < len(self.reviews):
            body["tokenPagination"] = {"nextPageToken": str(offset + limit)}
        return web.json_response(body)


@asynccontextmanager
async def serving(fake: FakeAppStore | FakeGooglePlay) -> AsyncIterator[str]:
    """The fake on a free loopback port; yields its base URL."""
    app = web.Application()
    if isinstance(fake, FakeAppStore):
        app.router.add_get("/v1/apps/{app}/customerReviews", fake.handle)
    else:
        app.router.add_post("/token", fake.token)
        app.router.add_get("/androidpublisher/v3/applications/{package}/reviews", fake.list)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake.url
    finally:
        await server.close()
