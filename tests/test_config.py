"""Settings: database URL spellings, refusing default secrets in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from salon.config import Settings, normalize_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/salon.db", "sqlite+aiosqlite:///data/salon.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgres://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_url_spellings(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_default_database_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/salon.db"


def test_production_refuses_default_or_short_secret() -> None:
    with pytest.raises(ValidationError, match="SALON_SECRET_KEY"):
        Settings(env="production")
    with pytest.raises(ValidationError, match="SALON_SECRET_KEY"):
        Settings(env="production", secret_key="short")
    assert Settings(env="production", secret_key="x" * 40).env == "production"


def test_spec_admin_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER_PERMISSIONS_CHAT_SHARE", "false")
    monkeypatch.setenv("USER_PERMISSIONS_SHARING_PUBLIC_CHAT", "false")
    monkeypatch.setenv("ENABLE_COMMUNITY_SHARING", "true")
    settings = Settings()
    assert settings.user_permissions_chat_share is False
    assert settings.user_permissions_sharing_public_chat is False
    assert settings.enable_community_sharing is True
