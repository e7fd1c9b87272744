"""The schema, as SQLAlchemy Core tables. Migrations (``store/migrations``) create it.

Core rather than ORM: repositories issue explicit statements, so hot paths stay one query and
atomic counters stay one UPDATE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime | None, dialect: sa.Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONDocument(sa.TypeDecorator[Any]):
    """JSON; JSONB on PostgreSQL. The PostgreSQL type is looked up only on PostgreSQL, so a
    server on SQLite never loads that dialect (some 20 ms of every start)."""

    impl = sa.JSON
    cache_ok = True
    # As sa.JSON: Python None is stored as JSON null, and values are not hashable.
    should_evaluate_none = True
    hashable = False

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return JSONB()
        return self.impl_instance


JSONType: Any = JSONDocument()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("permissions", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Browser sessions; the cookie holds the token, the table its SHA-256.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(80), nullable=False),
    sa.Column("agent_slug", sa.String(64), nullable=False),
    sa.Column("recipe", JSONType, nullable=False),
    sa.Column("file_filters", JSONType, nullable=False),
    sa.Column("next_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_conversations_user_updated", "user_id", "updated_at"),
)

# A conversation made by importing a file, by the file's fingerprint (``domain.salon_json``):
# the same file imported again is skipped. Deleting the conversation forgets the import.
conversation_imports = sa.Table(
    "conversation_imports",
    metadata,
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("conversation_id", sa.String(36),
              sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("conversation_id", sa.String(36),
              sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("turn_id", sa.String(36), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("parts", JSONType, nullable=False),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("usage", JSONType, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
)

# Content-addressed file bodies live on disk (or another blob store) under their SHA-256;
# a ``files`` row gives one use of a blob a name and an owner. A blob is removed when no
# row points at it any more.
files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("conversation_id", sa.String(36),
              sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True, index=True),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("media_type", sa.String(127), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Messages sent per user per UTC day, for the daily limit (kept when conversations are deleted).
message_quota = sa.Table(
    "message_quota",
    metadata,
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# The time-independent part of a share's status, kept by the database itself (a generated
# column on PostgreSQL, trigger-maintained on SQLite: see migration 0003), so it can never
# disagree with the columns it comes from: 2 revoked (by hand, or the
# clone limit without viewing after it), 1 views used up, 0 otherwise. Time expiry is the only
# thing a query adds (see ``store.shares.status_clause``); ``domain.shares.share_status`` is the
# rule it mirrors.
SHARE_STATE_SQL = (
    "CASE WHEN revoked_at IS NOT NULL OR (max_clones IS NOT NULL AND clones >= max_clones"
    " AND NOT allow_view_after_clone_limit) THEN 2"
    " WHEN max_views IS NOT NULL AND views >= max_views THEN 1 ELSE 0 END"
)
STATE_ACTIVE, STATE_VIEWS_USED, STATE_REVOKED = 0, 1, 2
# Every dashboard filter (title last) and the numeric/time sort keys: counting a user's
# matching shares and finding a page's ids read this index only.
DASHBOARD_COLUMNS = ("user_id", "state", "is_public", "has_password", "live", "expires_at",
                     "created_at", "updated_at", "views", "clones", "id", "title")

# A conversation's share (at most one). ``share_id`` is the link; status is derived from the
# columns (see ``domain.shares.share_status`` and ``store.shares.status_case``).
shares = sa.Table(
    "shares",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("share_id", sa.String(144), nullable=False, unique=True),
    sa.Column("conversation_id", sa.String(36),
              sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, unique=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("is_public", sa.Boolean, nullable=False),
    # "Only me" (migration 0006): the link is revoked for everyone but the owner.
    sa.Column("owner_only", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("live", sa.Boolean, nullable=False),
    sa.Column("display_username", sa.Boolean, nullable=False),
    sa.Column("allow_cloning", sa.Boolean, nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("max_views", sa.Integer, nullable=True),
    sa.Column("max_clones", sa.Integer, nullable=True),
    sa.Column("allow_view_after_clone_limit", sa.Boolean, nullable=False),
    sa.Column("upto_message_id", sa.String(36), nullable=True),
    sa.Column("views", sa.Integer, nullable=False, server_default="0"),
    sa.Column("clones", sa.Integer, nullable=False, server_default="0"),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("content_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.SmallInteger, sa.Computed(SHARE_STATE_SQL, persisted=True),
              nullable=False),
    sa.Column("has_password", sa.Boolean,
              sa.Computed("password_hash IS NOT NULL", persisted=True), nullable=False),
    sa.Index("ix_shares_user_created", "user_id", "created_at"),
    sa.Index("ix_shares_user_updated", "user_id", "updated_at"),
    sa.Index("ix_shares_user_title", "user_id", "title"),
    sa.Index("ix_shares_user_views", "user_id", "views"),
    sa.Index("ix_shares_user_clones", "user_id", "clones"),
    sa.Index("ix_shares_user_link", "user_id", "share_id"),
    sa.Index("ix_shares_user_facets", *DASHBOARD_COLUMNS),
    # PostgreSQL only (migration 0004): ix_shares_user_kind on (user_id, is_public,
    # has_password, live, state, expires_at, created_at, updated_at), and ix_shares_title_trgm,
    # a pg_trgm GIN index on title for the title search.
)

# A snapshot share's frozen header (title, recipe, the chat's times) ...
share_snapshots = sa.Table(
    "share_snapshots",
    metadata,
    sa.Column("share_pk", sa.String(36), sa.ForeignKey("shares.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("recipe", JSONType, nullable=False),
    sa.Column("conversation_created_at", UTCDateTime(), nullable=False),
    sa.Column("conversation_updated_at", UTCDateTime(), nullable=False),
    sa.Column("taken_at", UTCDateTime(), nullable=False),
)

# ... and its messages, copied from ``messages`` by one INSERT ... SELECT (no Python in the
# way: a 10,000-message snapshot is one statement). Viewers get them through the same allow-list
# as a live share's.
share_snapshot_messages = sa.Table(
    "share_snapshot_messages",
    metadata,
    sa.Column("share_pk", sa.String(36), sa.ForeignKey("shares.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("parts", JSONType, nullable=False),
    sa.Column("model", sa.String(200), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Instance-wide switches an admin changes at run time (e.g. sharing on or off).
instance_config = sa.Table(
    "instance_config",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", JSONType, nullable=False),
)

# The Telegram bot (migration 0007). A link code from Settings, kept as its SHA-256 until it
# is used or expires; a Telegram account linked to a Salon account; and each Telegram chat's
# current Salon conversation for that account ("/new" forgets it).
telegram_link_codes = sa.Table(
    "telegram_link_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

telegram_links = sa.Table(
    "telegram_links",
    metadata,
    sa.Column("telegram_user_id", sa.BigInteger, primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("telegram_name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

telegram_chats = sa.Table(
    "telegram_chats",
    metadata,
    sa.Column("chat_id", sa.BigInteger, primary_key=True),
    sa.Column("telegram_user_id", sa.BigInteger,
              sa.ForeignKey("telegram_links.telegram_user_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("conversation_id", sa.String(36),
              sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False,
              index=True),
)
