"""Process configuration from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import ipaddress
import re
from functools import cached_property
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.governance.policy import BY_NAME, Policy, parse_period

PLATFORMS = ("slack", "teams", "sandbox")
TEAMS_APP_TYPES = ("MultiTenant", "SingleTenant", "UserAssignedMSI")


class ConfigError(Exception):
    """A configuration problem, worded as one line that names the variable to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite+aiosqlite:///./earshot.db", alias="DATABASE_URL")
    port: int = Field(3978, alias="PORT", ge=1, le=65535)
    host: str | None = Field(None, alias="HOST")

    slack_bot_token: str | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: str | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_redirect_uri: str | None = Field(None, alias="SLACK_REDIRECT_URI")

    teams_app_id: str = Field("", alias="MicrosoftAppId")
    teams_app_password: str = Field("", alias="MicrosoftAppPassword")
    teams_app_type: str = Field("MultiTenant", alias="MicrosoftAppType")
    teams_app_tenant_id: str = Field("", alias="MicrosoftAppTenantId")

    ingest_token: str | None = Field(None, alias="EARSHOT_INGEST_TOKEN")
    ingest_max_bytes: int = Field(1_000_000, alias="EARSHOT_INGEST_MAX_BYTES", ge=1_000)
    redact_patterns: list[str] = Field(default_factory=list, alias="EARSHOT_REDACT_PATTERNS")
    mappings_dir: str | None = Field(None, alias="EARSHOT_MAPPINGS_DIR")
    sandbox: bool | None = Field(None, alias="EARSHOT_SANDBOX")
    sandbox_public: bool = Field(False, alias="EARSHOT_SANDBOX_PUBLIC")
    teams_emulator: bool = Field(False, alias="EARSHOT_TEAMS_EMULATOR")
    secret_keys_raw: str = Field("", alias="EARSHOT_SECRET_KEY", repr=False)
    slack_allowed_teams_raw: str = Field("", alias="SLACK_ALLOWED_TEAMS")
    timezone: str = Field("UTC", alias="EARSHOT_TIMEZONE")
    anon_min: int = Field(5, alias="EARSHOT_ANON_MIN")
    comment_min: int = Field(10, alias="EARSHOT_COMMENT_MIN")
    admins_raw: str = Field("", alias="EARSHOT_ADMINS")
    log_format: str = Field("text", alias="EARSHOT_LOG_FORMAT", pattern="^(text|json)$")
    metrics_port: int | None = Field(None, alias="EARSHOT_METRICS_PORT", ge=1, le=65535)
    delivery_lease_seconds: float = Field(60.0, alias="EARSHOT_DELIVERY_LEASE_SECONDS", ge=1, le=3600)
    retain_customer_contact: int | None = Field(90, alias="EARSHOT_RETAIN_CUSTOMER_CONTACT_DAYS")
    retain_feedback_text: int | None = Field(365, alias="EARSHOT_RETAIN_FEEDBACK_TEXT_DAYS")
    retain_pulse_answers: int | None = Field(365, alias="EARSHOT_RETAIN_PULSE_ANSWERS_DAYS")
    retain_files: int | None = Field(30, alias="EARSHOT_RETAIN_FILES_DAYS")
    retain_charts: int | None = Field(180, alias="EARSHOT_RETAIN_CHARTS_DAYS")
    retain_event_keys: int | None = Field(1, alias="EARSHOT_RETAIN_EVENT_KEYS_HOURS")
    retain_deliveries: int | None = Field(30, alias="EARSHOT_RETAIN_DELIVERIES_DAYS")
    retain_sandbox_messages: int | None = Field(30, alias="EARSHOT_RETAIN_SANDBOX_MESSAGES_DAYS")
    retain_audit: int | None = Field(730, alias="EARSHOT_RETAIN_AUDIT_DAYS")
    """Retention periods (bot.governance.policy): a whole number, or `never`/0 to keep forever."""
    public_url: str | None = Field(None, alias="EARSHOT_PUBLIC_URL")
    """Where the feedback tools reach this server (https://earshot.example.com): the start of the URLs
    `earshot sources add` prints. Unset: http://localhost:PORT, which only a tool on this machine reaches."""

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_client_id",
                     "slack_client_secret", "slack_redirect_uri", "ingest_token", "host", "public_url",
                     mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user:pass@host/db")
        return value

    @field_validator("retain_customer_contact", "retain_feedback_text", "retain_pulse_answers", "retain_files",
                     "retain_charts", "retain_event_keys", "retain_deliveries", "retain_sandbox_messages",
                     "retain_audit", mode="before")
    @classmethod
    def _retention_period(cls, value: object, info: ValidationInfo) -> int | None:
        return parse_period(BY_NAME[str(info.field_name).removeprefix("retain_")], value)

    @field_validator("public_url")
    @classmethod
    def _public_url_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be the server's address as the tools reach it, like https://earshot.example.com")
        return value.strip().rstrip("/")

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, value: list[str]) -> list[str]:
        import regex

        for pattern in value:
            try:
                regex.compile(pattern)
            except regex.error as error:
                raise ValueError(f"pattern {pattern!r} does not compile: {error}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Europe/Berlin)") from None
        return value

    @field_validator("anon_min")
    @classmethod
    def _anon_floor(cls, value: int) -> int:
        if value < 3:
            raise ValueError("must be at least 3: smaller groups can be identified")
        return value

    @field_validator("secret_keys_raw")
    @classmethod
    def _keys_usable(cls, value: str) -> str:
        from storage.secrets import SecretKeyError, fernet_key

        try:
            for key in _split(value):
                fernet_key(key)
        except SecretKeyError as error:
            raise ValueError(str(error).removeprefix("EARSHOT_SECRET_KEY: ")) from None
        return value

    @field_validator("admins_raw")
    @classmethod
    def _admins_shape(cls, value: str) -> str:
        for entry in _split(value):
            platform, _, user = entry.partition(":")
            if platform not in PLATFORMS or not user:
                raise ValueError(f"{entry!r} is not platform:user_id (e.g. slack:U024BE7LH, teams:29:1a2b)")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> Settings:
        self._slack_oauth_combinations()
        if self.slack_signing_secret and not self.slack_enabled:
            raise ValueError("SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) is required when "
                             "SLACK_SIGNING_SECRET is set")
        if self.slack_app_token and not self.slack_bot_token:
            raise ValueError("SLACK_BOT_TOKEN is required when SLACK_APP_TOKEN is set (Socket Mode)")
        if self.slack_bot_token:
            if not self.slack_bot_token.startswith(("xoxb-", "xoxp-")):
                raise ValueError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
            if not self.slack_signing_secret and not self.slack_app_token:
                raise ValueError("SLACK_SIGNING_SECRET is required when SLACK_BOT_TOKEN is set")
        if self.slack_app_token and not self.slack_app_token.startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        if self.teams_app_password and not self.teams_app_id:
            raise ValueError("MicrosoftAppId is required when MicrosoftAppPassword is set")
        if self.teams_app_type not in TEAMS_APP_TYPES:
            raise ValueError(f"MicrosoftAppType must be one of {', '.join(TEAMS_APP_TYPES)}")
        if self.teams_app_id and self.teams_app_type == "SingleTenant" and not self.teams_app_tenant_id:
            raise ValueError("MicrosoftAppTenantId is required when MicrosoftAppType is SingleTenant")
        self._exposure()
        self._comment_minimum()
        return self

    def _exposure(self) -> None:
        """What listens where: the sandbox and the Teams emulator trust whoever reaches them, so they stay on
        loopback unless opened on purpose, and never share a process (or its data) with a real platform."""
        if self.teams_emulator and self.teams_app_id:
            raise ValueError("EARSHOT_TEAMS_EMULATOR must not be set with MicrosoftAppId: the emulator runs "
                             "without authentication; a registered bot authenticates every request")
        if self.teams_emulator and not is_loopback(self.listen_host):
            raise ValueError(f"EARSHOT_TEAMS_EMULATOR accepts unauthenticated requests, so it listens on "
                             f"loopback only (HOST={self.listen_host} is not)")
        real = [name for name, on in (("Slack", self.slack_enabled), ("Teams", self.teams_enabled)) if on]
        if self.sandbox and real:
            raise ValueError(f"EARSHOT_SANDBOX can't run next to {' and '.join(real)}: the sandbox's people "
                             "are whoever its page says they are, so it would reach real feedback, pulses and "
                             "digests; run the sandbox as its own process on its own database")
        if self.sandbox_enabled and not is_loopback(self.listen_host) and not self.sandbox_public:
            raise ValueError(f"HOST={self.listen_host} would open the sandbox to the network: it listens on "
                             "loopback only unless EARSHOT_SANDBOX_PUBLIC=1 is set too")
        if self.slack_oauth and not self.slack_allowed_teams:
            raise ValueError("SLACK_ALLOWED_TEAMS is required when SLACK_CLIENT_ID is set: list the Slack team "
                             "(T…) or enterprise (E…) ids that may install Earshot")
        if self.slack_oauth and not self.secret_keys:
            raise ValueError("EARSHOT_SECRET_KEY is required when SLACK_CLIENT_ID is set: installed workspaces' "
                             "tokens are stored encrypted with it")

    def _comment_minimum(self) -> None:
        """Free text can name its writer, so comments need more people than totals do (DESIGN.md). Left unset,
        EARSHOT_COMMENT_MIN is 10, or twice EARSHOT_ANON_MIN once that reaches 10; set too low, it is an error."""
        if self.comment_min > self.anon_min:
            return
        if "comment_min" not in self.model_fields_set:
            self.comment_min = 2 * self.anon_min
            return
        raise ValueError(f"EARSHOT_COMMENT_MIN ({self.comment_min}) must be higher than EARSHOT_ANON_MIN "
                         f"({self.anon_min}): free-text comments can identify their writer, so they need a higher "
                         "minimum")

    def _slack_oauth_combinations(self) -> None:
        if bool(self.slack_client_id) != bool(self.slack_client_secret):
            missing = "SLACK_CLIENT_SECRET" if self.slack_client_id else "SLACK_CLIENT_ID"
            raise ValueError(f"{missing} is required: set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET together")
        if self.slack_redirect_uri and not self.slack_oauth:
            raise ValueError("SLACK_REDIRECT_URI needs SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (OAuth installs)")
        if not self.slack_oauth:
            return
        if self.slack_bot_token:
            raise ValueError("SLACK_BOT_TOKEN must not be set with SLACK_CLIENT_ID: installed workspaces bring "
                             "their own tokens")
        if self.slack_app_token:
            raise ValueError("SLACK_APP_TOKEN must not be set with SLACK_CLIENT_ID: OAuth installs run over HTTP")
        if not self.slack_signing_secret:
            raise ValueError("SLACK_SIGNING_SECRET is required when SLACK_CLIENT_ID is set")
        if self.slack_redirect_uri and not re.match(r"^https?://[^/]+/(.+/)?slack/oauth_redirect$",
                                                    self.slack_redirect_uri):
            raise ValueError("SLACK_REDIRECT_URI must be an http(s) URL ending in /slack/oauth_redirect")

    @property
    def retention(self) -> Policy:
        """How long each kind of people data is kept (EARSHOT_RETAIN_*)."""
        return Policy(**{name: getattr(self, f"retain_{name}") for name in BY_NAME})

    @property
    def public_base_url(self) -> str:
        """EARSHOT_PUBLIC_URL, or this machine's own address on PORT."""
        return self.public_url or f"http://localhost:{self.port}"

    @property
    def slack_oauth(self) -> bool:
        """Multi-workspace: each workspace installs the app over OAuth and its bot token is stored."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token) or self.slack_oauth

    @property
    def teams_enabled(self) -> bool:
        """Teams is served with a registered bot (MicrosoftAppId), or unauthenticated on loopback for the
        Bot Framework Emulator when EARSHOT_TEAMS_EMULATOR is set; never by default."""
        return bool(self.teams_app_id) or self.teams_emulator

    @property
    def listen_host(self) -> str:
        """HOST, or loopback while the sandbox or the Teams emulator is served (every interface otherwise)."""
        if self.host:
            return self.host
        return "127.0.0.1" if self.sandbox_enabled or self.teams_emulator else "0.0.0.0"

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """EARSHOT_SECRET_KEY: the first key encrypts, every key decrypts (list old ones after it to rotate)."""
        return tuple(_split(self.secret_keys_raw))

    @property
    def slack_allowed_teams(self) -> frozenset[str]:
        """SLACK_ALLOWED_TEAMS: the Slack team (T…) and enterprise (E…) ids that may install over OAuth."""
        return frozenset(_split(self.slack_allowed_teams_raw))

    @property
    def sandbox_enabled(self) -> bool:
        if self.sandbox is not None:
            return self.sandbox
        return not (self.slack_enabled or self.teams_enabled)

    @cached_property
    def admins(self) -> tuple[tuple[str, str], ...]:
        """`EARSHOT_ADMINS` as (platform, user_id) pairs."""
        return tuple(tuple(entry.split(":", 1)) for entry in _split(self.admins_raw))  # type: ignore[misc]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_host(host_header: str) -> bool:
    """Whether a request's Host header (a name or address, any port) names this machine: what a page reached
    through DNS rebinding can't send."""
    try:
        name = urlsplit(f"//{host_header}").hostname or ""
    except ValueError:
        return False
    return is_loopback(name)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation failures into one ConfigError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    fields = Settings.model_fields
    names = [fields[str(part)].alias or str(part) if str(part) in fields else str(part) for part in error["loc"]]
    where = ".".join(names)
    return f"configuration error: {where}: {message}" if where else f"configuration error: {message}"
