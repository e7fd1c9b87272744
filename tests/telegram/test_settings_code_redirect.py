"""The settings page's "Link Telegram": the post answers 303, and the code is shown once on the
page it leads to, so a reload never makes another code."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.factories import UserClient
from tests.fakes.telegram_server import FakeTelegramServer
from tests.web.test_pages import HTML, log_in


@pytest.fixture
def settings_overrides() -> Iterator[dict[str, Any]]:
    with FakeTelegramServer(token=f"{uuid.uuid4().int % 10**9}:test-token") as server:
        yield {"telegram_bot_token": server.token, "telegram_api_url": server.url}


async def test_the_link_code_is_shown_once_after_a_redirect(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    csrf = await log_in(client, alice)
    r = await client.post("/settings/telegram/code", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/settings"
    page = (await client.get("/settings", headers=HTML)).text
    assert re.search(r'id="telegram-code" class="mono" readonly value="/link [A-Z0-9]+"', page)
    again = (await client.get("/settings", headers=HTML)).text
    assert 'id="telegram-code"' not in again and "Link Telegram" in again
