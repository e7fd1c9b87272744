"""Settings: read once from the environment (``SALON_*`` plus the spec's admin variables).

Build one ``Settings`` and pass it down (``create_app(settings)``); nothing reads the environment
after that. Every field here is documented in the README's settings table (a test checks it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-insecure-secret-change-me"


class ModelPrice(BaseModel):
    """A model's price in the currency the admin bills in, per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALON_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path("./data")
    database_url: str = ""
    # Seconds to wait for a database connection, and for one statement (also how long a
    # SQLite writer waits for the write lock); past them a request answers 503.
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_statement_timeout: float = Field(default=10.0, gt=0)
    secret_key: str = DEV_SECRET
    base_url: str = ""
    enable_signup: bool = True
    # Accounts one address may open through sign-up per hour (each costs a password hash).
    signup_limit_per_hour: int = Field(default=20, ge=1)
    cookie_secure: bool = False
    session_days: int = Field(default=30, ge=1)
    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # The limit for routes anyone may call without an account (sign-in, sign-up, share
    # passwords): their bodies are a few fields.
    max_anonymous_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Password hashes (argon2id, 64 MiB each) running at once per process, and how many more
    # may wait; beyond that a sign-in is refused at once (429 SERVER_BUSY).
    password_hash_workers: int = Field(default=2, ge=1)
    password_hash_queue: int = Field(default=8, ge=0)
    # Share pages (and live pages' message fetches) rendered at once per process, off the
    # event loop, and how many more may wait; beyond that one is refused (503 SERVER_BUSY).
    render_workers: int = Field(default=2, ge=1)
    render_queue: int = Field(default=16, ge=0)
    # Bytes of rendered share pages, and of rendered shared messages, kept in memory per
    # process (each; the least recently used go first).
    page_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    message_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    max_query_chars: int = Field(default=100_000, ge=1)
    daily_message_limit: int = Field(default=0, ge=0)
    log_level: str = "info"
    # Reverse proxies whose X-Forwarded-For / -Proto headers are believed (comma-separated IPs
    # or networks, "*" for any). Everyone else's forwarding headers are ignored.
    trusted_proxies: str = "127.0.0.1"
    # Web pages on other origins whose scripts may call the API (comma-separated origins such
    # as https://chat.example.org; empty: none). Listed origins may send credentials; "*"
    # alone lets any origin read answers, never with credentials.
    cors_origins: str = ""

    llm_provider: Literal["auto", "openai", "local", "none"] = "auto"
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_model: str = ""
    llm_timeout: float = Field(default=120.0, gt=0)
    local_model_path: str = ""
    local_context_tokens: int = Field(default=2048, ge=256)
    max_answer_tokens: int = Field(default=512, ge=1)
    # What each model costs, per million tokens, as JSON: {"gpt-4o-mini": {"input": 0.15,
    # "output": 0.6}}. A model listed here gets a ``cost`` in its answers' usage.
    model_prices: dict[str, ModelPrice] = Field(default_factory=dict)

    user_permissions_chat_share: bool = Field(
        default=True,
        validation_alias=AliasChoices(
            "USER_PERMISSIONS_CHAT_SHARE", "SALON_PERMISSIONS_CHAT_SHARE"
        ),
    )
    user_permissions_sharing_public_chat: bool = Field(
        default=True,
        validation_alias=AliasChoices(
            "USER_PERMISSIONS_SHARING_PUBLIC_CHAT", "SALON_PERMISSIONS_SHARING_PUBLIC_CHAT"
        ),
    )
    user_permissions_chat_clone: bool = Field(
        default=True,
        validation_alias=AliasChoices(
            "USER_PERMISSIONS_CHAT_CLONE", "SALON_PERMISSIONS_CHAT_CLONE"
        ),
    )
    enable_community_sharing: bool = Field(
        default=False,
        validation_alias=AliasChoices("ENABLE_COMMUNITY_SHARING", "SALON_ENABLE_COMMUNITY_SHARING"),
    )
    # The community hub (another Salon) that "Share to community" publishes to, and an API
    # token of the hub account the chats are published under.
    community_url: str = ""
    community_token: str = ""
    # Redis, for several workers or hosts: shared rate limits and live updates.
    redis_url: str = ""
    # Seconds a Redis connect, and then a Redis command, may take (past it: 503).
    redis_timeout: float = Field(default=2.0, gt=0)
    # Open live-update streams (``/s/{id}/events``) allowed per share and per client address.
    live_streams_per_share: int = Field(default=1000, ge=1)
    live_streams_per_client: int = Field(default=8, ge=1)
    # When told to stop: how long answers being written may take to finish (then they are
    # stored as interrupted); live streams end at once with "reload".
    shutdown_grace_seconds: int = Field(default=10, ge=0)
    # /image: an OpenAI-compatible images API (``POST {base}/images/generations``); off
    # without a base URL and a model. The base URL is the admin's choice and may be on the
    # private network; image URLs in its answers are fetched under the SSRF rules below.
    image_base_url: str = ""
    image_api_key: str = ""
    image_model: str = ""
    image_size: str = ""  # e.g. 1024x1024; empty: the server's default
    image_response_format: Literal["", "b64_json", "url"] = ""  # empty: not sent
    image_timeout: float = Field(default=120.0, gt=0)
    # Fetching from the web (image URLs, later /online pages): private, loopback, link-local
    # and reserved addresses are refused unless listed here (comma-separated networks or
    # host names); the size and time limits of one fetch, redirects included.
    fetch_allow_private: str = ""
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    fetch_timeout: float = Field(default=20.0, gt=0)
    # Whether this server is a hub: it accepts chats published by other Salons.
    accept_community_shares: bool = False
    # The Telegram bot (off without a token): the Bot API's address (a fake one in tests),
    # how updates arrive, the secret Telegram sends with webhook calls, and how long a link
    # code from Settings stays valid.
    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_secret: str = ""
    telegram_link_code_minutes: int = Field(default=10, ge=1, le=1440)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("SALON_SECRET_KEY must be set to a random value in production")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("SALON_SECRET_KEY must be at least 32 characters in production")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("SALON_REDIS_URL must be a redis://, rediss:// or unix:// URL")
        if (self.telegram_bot_token and self.telegram_mode == "webhook"
                and not self.telegram_webhook_secret):
            raise ValueError("SALON_TELEGRAM_MODE=webhook needs SALON_TELEGRAM_WEBHOOK_SECRET "
                             "(Telegram sends it with every update; others cannot)")
        if self.telegram_webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}",
                                                             self.telegram_webhook_secret):
            raise ValueError("SALON_TELEGRAM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - "
                             "(1 to 256 characters), as Telegram requires")
        if self.community_url and not self.community_url.startswith(("http://", "https://")):
            raise ValueError("SALON_COMMUNITY_URL must be the community hub's http:// or "
                             "https:// address")
        origins = self.cors_origin_list
        if "*" in origins and len(origins) > 1:
            raise ValueError('SALON_CORS_ORIGINS is either "*" (any origin, without '
                             "credentials) or a list of origins, not both")
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        """The origins of SALON_CORS_ORIGINS, without a trailing slash (a browser's Origin
        header never has one)."""
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def community_sharing_ready(self) -> bool:
        """On, with a hub to publish to and a token for it (else the button is not shown)."""
        return bool(self.enable_community_sharing and self.community_url
                    and self.community_token)

    @property
    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL: SQLite under the data dir unless one is configured."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'salon.db').resolve()}"
        return normalize_database_url(url)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


def normalize_database_url(url: str) -> str:
    """Map every spelling of a SQLite or PostgreSQL URL to the async driver Salon ships
    (aiosqlite, asyncpg), so a URL copied from another tool works as it is."""
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://",
                   "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url
