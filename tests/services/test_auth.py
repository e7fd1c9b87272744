"""Account use cases with a controlled clock, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from salon.domain.errors import Conflict, Forbidden, InvalidInput
from salon.services import auth
from salon.services.context import AppContext

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def ctx(app: Any) -> AppContext:
    context: AppContext = app.state.ctx
    context.clock = lambda: T0
    return context


async def test_sessions_expire_after_configured_days(ctx: AppContext) -> None:
    user = await auth.create_user(ctx, email="a@example.com", name="A", password="long enough")
    session = await auth.open_session(ctx, user)
    assert await auth.authenticate(ctx, session.token, via_cookie=True) is not None
    ctx.clock = lambda: T0 + timedelta(days=ctx.settings.session_days, seconds=1)
    assert await auth.authenticate(ctx, session.token, via_cookie=True) is None


async def test_api_tokens_are_refused_in_cookies_and_record_use(ctx: AppContext) -> None:
    user = await auth.create_user(ctx, email="a@example.com", name="A", password="long enough")
    created = await auth.create_api_token(ctx, user, name="ci")
    assert await auth.authenticate(ctx, created["token"], via_cookie=True) is None
    ctx.clock = lambda: T0 + timedelta(hours=1)
    principal = await auth.authenticate(ctx, created["token"], via_cookie=False)
    assert principal is not None and principal.user.id == user.id and not principal.via_cookie
    [listed] = await auth.list_api_tokens(ctx, user)
    assert listed["last_used_at"] == T0 + timedelta(hours=1)


async def test_only_hashes_are_stored(ctx: AppContext) -> None:
    user = await auth.create_user(ctx, email="a@example.com", name="A", password="long enough")
    created = await auth.create_api_token(ctx, user, name="ci")
    session = await auth.open_session(ctx, user)
    rows = []
    async with ctx.engine.connect() as conn:
        for table in ("users", "sessions", "api_tokens"):
            rows += (await conn.exec_driver_sql(f"SELECT * FROM {table}")).all()
    dump = " ".join(map(str, rows))
    assert created["token"] not in dump and session.token not in dump
    assert "long enough" not in dump and "$argon2id$" in dump


async def test_admin_cannot_demote_self_and_cli_roles(ctx: AppContext) -> None:
    admin = await auth.create_user(ctx, email="a@example.com", name="A", password="long enough")
    other = await auth.create_user(ctx, email="b@example.com", name="B", password="long enough",
                                   role="admin")
    assert admin.role == "admin" and other.role == "admin"
    with pytest.raises(InvalidInput):
        await auth.update_user_access(ctx, admin, admin.id, role="user")
    demoted = await auth.update_user_access(ctx, other, admin.id, role="user")
    with pytest.raises(Forbidden):
        await auth.list_users(ctx, demoted)
    with pytest.raises(Conflict):
        await auth.create_user(ctx, email="A@example.com", name="X", password="long enough")
