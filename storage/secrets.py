"""Secrets at rest (Slack OAuth tokens, anonymous answers waiting to be published, inbound-event dedupe keys),
encrypted or keyed with `EARSHOT_SECRET_KEY` through `cryptography`'s Fernet (AES-128-CBC with HMAC-SHA256,
authenticated) and HMAC-SHA256. Each use has its own key, derived from the configured ones with HKDF and a
`purpose`, so a value sealed for one use can't be opened as another.

`EARSHOT_SECRET_KEY` is a comma-separated list: the first key encrypts, every key decrypts, so a key rotates by
putting the new one first and keeping the old one after it until everything was rewritten. Each key is either a
Fernet key (`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`) or a
passphrase of at least 32 characters, turned into a Fernet key with HKDF-SHA256. HKDF does not stretch a weak
passphrase, hence the length floor: use a random one (`openssl rand -base64 32`).

A sealed value is text: `enc1:` and a Fernet token; anything else is plaintext, which `SecretBox.open` refuses
(migration 0009 encrypted the rows written before). Keys, plaintexts and tokens never appear in a message.

Lives in storage/ because it is about what the database holds: migrations use it, and the key file of the
embedded default sits beside the SQLite database."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage.engine import owner_only, sqlite_file

ENV = "EARSHOT_SECRET_KEY"
PREFIX = "enc1:"
MIN_PASSPHRASE = 32
HKDF_INFO = b"earshot secrets at rest v1"
FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")


class SecretKeyError(Exception):
    """A missing, malformed or wrong key, or a stored value that is not encrypted: one line saying what to do."""


def split_keys(value: str | None) -> tuple[str, ...]:
    """`EARSHOT_SECRET_KEY`'s comma-separated keys, in order."""
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def fernet_key(key: str) -> bytes:
    """A Fernet key as given, or one derived from a long passphrase."""
    if FERNET_KEY.fullmatch(key):
        return key.encode()
    if len(key) < MIN_PASSPHRASE:
        raise SecretKeyError(f"{ENV}: each key must be a Fernet key (44 characters of url-safe base64) or a "
                             f"passphrase of at least {MIN_PASSPHRASE} characters")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(key.encode())
    return base64.urlsafe_b64encode(derived)


@functools.lru_cache(maxsize=16)
def subkey(key: str, purpose: str) -> bytes:
    """32 bytes for one `purpose`, derived from one configured key (a Fernet key or a passphrase); kept, since event
    dedupe derives it for every inbound event."""
    material = base64.urlsafe_b64decode(fernet_key(key))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"earshot {purpose} v1".encode()).derive(material)


class SecretBox:
    """Encrypts with the first key, decrypts with any. With a `purpose`, the keys used are derived for it."""

    def __init__(self, keys: Sequence[str], purpose: str | None = None) -> None:
        if not keys:
            raise SecretKeyError(f"{ENV} is not set: stored secrets are encrypted with it")
        self._fernet = MultiFernet([Fernet(base64.urlsafe_b64encode(subkey(key, purpose)) if purpose
                                           else fernet_key(key)) for key in keys])

    def __repr__(self) -> str:
        return "SecretBox(…)"

    def seal(self, plaintext: str) -> str:
        return self.seal_bytes(plaintext.encode())

    def seal_bytes(self, plaintext: bytes, at: int | None = None) -> str:
        """`at`: the time written into the token (Fernet keeps one in clear), if not now; 0 keeps none."""
        token = self._fernet.encrypt(plaintext) if at is None else self._fernet.encrypt_at_time(plaintext, at)
        return PREFIX + token.decode()

    def open(self, sealed: str) -> str:
        return self.open_bytes(sealed).decode()

    def open_bytes(self, sealed: str) -> bytes:
        if not is_sealed(sealed):
            raise SecretKeyError("a stored secret is not encrypted: run `earshot db upgrade` with "
                                 f"{ENV} set to encrypt the rows written before")
        try:
            return self._fernet.decrypt(sealed[len(PREFIX):].encode())
        except InvalidToken:
            raise SecretKeyError(f"a stored secret can't be decrypted with {ENV}: was the key replaced instead of "
                                 "rotated? Put the new key first and the old one after it, comma-separated") from None


def keyed_digest(keys: Sequence[str], purpose: str, message: str) -> str:
    """HMAC-SHA256 of `message` under the first key's `purpose` key, as 40 hex digits: equal messages give equal
    digests, and nobody without the key can tell which message gave one (or test a guess)."""
    if not keys:
        raise SecretKeyError(f"{ENV} is not set: stored keys are derived from it")
    return hmac.new(subkey(keys[0], purpose), message.encode(), hashlib.sha256).hexdigest()[:40]


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def resolve_keys(database_url: str, configured: Sequence[str]) -> tuple[str, ...]:
    """The keys to use: `EARSHOT_SECRET_KEY`'s when set. Otherwise, for the embedded default (a SQLite file), a
    key generated once into an owner-only file beside the database (`earshot.db` → `earshot.db.key`), so the
    quick start needs no configuration; an in-memory SQLite database gets a key that lives as long as it does.
    PostgreSQL deployments must set the variable. (Slack OAuth mode always requires it: bot/config.py.)"""
    if configured:
        return tuple(configured)
    if not database_url.startswith("sqlite"):
        raise SecretKeyError(f"{ENV} is required with PostgreSQL: stored secrets are encrypted with it")
    path = sqlite_file(database_url)
    if path is None:
        return (Fernet.generate_key().decode(),)
    return (_key_file(path.with_name(path.name + ".key")),)


def _key_file(path: Path) -> str:
    """Read the key file, or create it: written whole and owner-only into a temporary file, then linked into
    place, so a process starting at the same moment reads either no file or the whole key, and the first wins."""
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(Fernet.generate_key() + b"\n")
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    owner_only(path)
    keys = split_keys(path.read_text())
    if not keys:
        raise SecretKeyError(f"{path} holds no key: restore it, or delete it if nothing was encrypted with it")
    return keys[0]
