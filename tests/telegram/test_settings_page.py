"""The settings page's Telegram card: there only when the bot is, forms need the CSRF token."""

from __future__ import annotations

import httpx

from tests.factories import UserClient
from tests.web.test_pages import HTML, log_in


async def test_no_telegram_card_without_the_bot(client: httpx.AsyncClient,
                                                alice: UserClient) -> None:
    await log_in(client, alice)
    page = (await client.get("/settings", headers=HTML)).text
    assert "Link Telegram" not in page


async def test_link_codes_need_the_csrf_token(client: httpx.AsyncClient,
                                              alice: UserClient) -> None:
    await log_in(client, alice)
    r = await client.post("/settings/telegram/code", data={"csrf_token": "forged"},
                          headers=HTML)
    assert r.status_code == 403
    assert "/link " not in r.text
