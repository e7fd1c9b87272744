"""Shared fixtures: a real database per test (SQLite, and PostgreSQL when
``SALON_TEST_DATABASE_URL`` points at one), the app through an httpx ASGI client, and a fake
OpenAI-compatible model server speaking the real HTTP streaming protocol."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.app import create_app
from salon.config import Settings, normalize_database_url
from salon.store.db import create_engine, execute_autocommit, upgrade_database
from salon.store.tables import metadata
from tests.factories import UserClient
from tests.fakes.openai_server import FakeOpenAIServer

PG_URL = os.environ.get("SALON_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "salon.db"
    asyncio.run(_migrate(normalize_database_url(f"sqlite:///{path}")))
    return path


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    await upgrade_database(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set SALON_TEST_DATABASE_URL to run these")
    admin_url = normalize_database_url(PG_URL)
    name = f"salon_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(execute_autocommit(admin_url, f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        pytest.skip(f"PostgreSQL at SALON_TEST_DATABASE_URL is not reachable: {exc}")
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(execute_autocommit(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    names = ", ".join(f'"{t.name}"' for t in reversed(metadata.sorted_tables))
    await execute_autocommit(url, f"TRUNCATE {names} CASCADE")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: each test runs once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "salon.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return normalize_database_url(f"sqlite:///{path}")
    url: str = request.getfixturevalue("pg_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or parametrise) to change settings for its tests."""
    return {}


@pytest.fixture
def llm_mode() -> str:
    """The fake model server's mode (a path prefix such as "/slow"); parametrise to change."""
    return ""


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, fake_llm: FakeOpenAIServer,
    settings_overrides: dict[str, Any], llm_mode: str,
) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "llm_provider": "openai",
        "llm_base_url": f"{fake_llm.url}{llm_mode}/v1",
        "llm_model": "fake-model",
        "llm_timeout": 5.0,
    }
    values.update(settings_overrides)
    return Settings(**values)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def engine(app: Any) -> AsyncEngine:
    eng: AsyncEngine = app.state.ctx.engine
    return eng


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous client."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def make_user(app: Any) -> AsyncIterator[Any]:
    """``await make_user(name=...)`` → a signed-up user with its own bearer-token client."""
    clients: list[httpx.AsyncClient] = []
    counter = iter(range(1, 1_000_000))

    async def _make(name: str | None = None, **kwargs: Any) -> UserClient:
        n = next(counter)
        user = await UserClient.sign_up(app, name=name or f"User {n}",
                                        email=kwargs.get("email", f"user{n}@example.com"),
                                        password=kwargs.get("password", "correct horse battery"))
        clients.append(user.http)
        return user

    yield _make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def alice(make_user: Any) -> UserClient:
    user: UserClient = await make_user(name="Alice", email="alice@example.com")
    return user


@pytest.fixture
async def bob(make_user: Any) -> UserClient:
    user: UserClient = await make_user(name="Bob", email="bob@example.com")
    return user


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A bare engine on the test database, for store-level tests (no app)."""
    eng = create_engine(database_url)
    yield eng
    await eng.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """llama.cpp's Python binding opens two /dev/null files at import and never closes them;
    close them once no model can load any more, so the run ends without ResourceWarnings."""
    import sys

    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None:
            handle.close()
