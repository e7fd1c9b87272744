"""The Telegram bot end to end: Salon under uvicorn, the fake model, and a fake Bot API
server speaking Telegram's HTTP protocol (long polling, or a webhook with its secret)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from salon.app import create_app
from salon.config import Settings
from salon.domain.shares import SHARING_DISABLED_DETAIL
from salon.telegram.bot import LINK_USAGE, NOT_LINKED, SHARE_USAGE
from tests.fakes.telegram_server import FakeTelegramServer
from tests.web.test_live_server import free_port, serve

TOKEN = "123456:test-token"
HTML = {"Accept": "text/html"}
CHAT = USER = 4242  # a private chat's id is the user's


@pytest.fixture
def telegram() -> Iterator[FakeTelegramServer]:
    """A fake Bot API for a bot of its own (its token is new: the polling lease in a shared
    Redis is per bot)."""
    with FakeTelegramServer(token=f"{uuid.uuid4().int % 10**9}:test-token") as server:
        yield server


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    """Parametrise to change more settings."""
    return {}


@pytest.fixture
def settings_overrides(telegram: FakeTelegramServer,
                       extra_settings: dict[str, Any]) -> dict[str, Any]:
    return {"telegram_bot_token": telegram.token, "telegram_api_url": telegram.url,
            **extra_settings}


@pytest.fixture
def salon_app(settings: Settings) -> Iterator[tuple[str, Any]]:
    """Salon with the bot, on a port known beforehand (its links and webhook name it): its
    base URL and the app (whose state holds the bot's runner)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(settings.model_copy(update={"base_url": base}))
    with serve(settings, app=app, port=port):
        yield base, app


@pytest.fixture
def salon(salon_app: tuple[str, Any]) -> str:
    return salon_app[0]


@dataclass
class Account:
    http: httpx.AsyncClient  # signed in with the login form (cookies)
    csrf: str


@pytest.fixture
async def account(salon: str) -> AsyncIterator[Account]:
    """The first account (an admin), signed in through the pages."""
    async with httpx.AsyncClient(base_url=salon, timeout=30) as http:
        r = await http.post("/api/v1/auths/signup", json={
            "name": "Ada", "email": "ada@example.com", "password": "long enough pw"})
        assert r.status_code == 200, r.text
        http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        page = (await http.get("/settings", headers=HTML)).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "no CSRF token on the settings page"
        yield Account(http=http, csrf=match.group(1))


async def link_code(account: Account) -> str:
    r = await account.http.post("/settings/telegram/code", data={"csrf_token": account.csrf},
                                headers=HTML)
    assert r.status_code == 303, r.text  # post/redirect/get: the code is on the next page
    page = await account.http.get(r.headers["location"], headers=HTML)
    match = re.search(r'value="/link ([A-Z0-9]+)"', page.text)
    assert match, "no link code on the page"
    return match.group(1)


async def say(telegram: FakeTelegramServer, text: str, *, count: int,
              chat: int = CHAT, user: int = USER) -> list[str]:
    """Write ``text`` as the user; the chat's bot messages once there are ``count``."""
    telegram.send_text(chat_id=chat, user_id=user, text=text)
    return await telegram.wait_for_replies(chat, count=count)


async def linked(telegram: FakeTelegramServer, account: Account) -> int:
    """Link the test user; returns how many bot messages the chat holds."""
    texts = await say(telegram, f"/start {await link_code(account)}", count=1)
    assert texts[-1].startswith("Linked to the Salon account of Ada")
    return len(texts)


async def linked_with_answer(telegram: FakeTelegramServer, account: Account, text: str) -> int:
    """Link the test user and chat ``text``; returns how many bot messages the chat holds."""
    await linked(telegram, account)
    telegram.send_text(chat_id=CHAT, user_id=USER, text=text)
    return len(await telegram.wait_for_text(CHAT, f"Echo: {text}"))


async def conversations(account: Account) -> list[dict[str, Any]]:
    r = await account.http.get("/api/v1/chats/")
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


async def test_unlinked_user_is_told_how_to_link(salon: str,
                                                 telegram: FakeTelegramServer) -> None:
    texts = await say(telegram, "hello", count=1)
    assert texts == [NOT_LINKED]
    texts = await say(telegram, "/link WRONGCODE", count=2)
    assert "not valid" in texts[1]
    texts = await say(telegram, "/link", count=3)
    assert texts[2] == LINK_USAGE


async def test_link_chat_continue_and_new(salon: str, telegram: FakeTelegramServer,
                                          account: Account) -> None:
    code = await link_code(account)
    assert "Link Telegram" in (await account.http.get("/settings", headers=HTML)).text
    texts = await say(telegram, f"/link {code.lower()}", count=1)
    assert texts[0].startswith("Linked to the Salon account of Ada")
    # The code works once: another Telegram account cannot use it again.
    texts = await say(telegram, f"/link {code}", count=1, chat=77, user=77)
    assert "not valid" in texts[0]

    telegram.send_text(chat_id=CHAT, user_id=USER, text="hello there")
    await telegram.wait_for_text(CHAT, "Echo: hello there")
    telegram.send_text(chat_id=CHAT, user_id=USER, text="and again")
    await telegram.wait_for_text(CHAT, "Echo: and again")
    chats = await conversations(account)
    assert len(chats) == 1  # one conversation per Telegram chat
    texts = await say(telegram, "/new", count=4)
    assert texts[-1].startswith("Started a new conversation")
    telegram.send_text(chat_id=CHAT, user_id=USER, text="fresh start")
    await telegram.wait_for_text(CHAT, "Echo: fresh start")
    assert len(await conversations(account)) == 2
    page = (await account.http.get("/settings", headers=HTML)).text
    assert "Linked: tguser" in page
    r = await account.http.post("/settings/telegram/unlink", data={"csrf_token": account.csrf})
    assert r.status_code == 303
    assert "Telegram was unlinked" in (await account.http.get(r.headers["location"],
                                                              headers=HTML)).text
    texts = await say(telegram, "still there?", count=len(telegram.chat_texts(CHAT)) + 1)
    assert texts[-1] == NOT_LINKED


async def test_share_variants(salon: str, telegram: FakeTelegramServer,
                              account: Account) -> None:
    count = await linked(telegram, account)
    texts = await say(telegram, "/share", count=count + 1)
    assert texts[-1].startswith("Nothing to share yet")
    telegram.send_text(chat_id=CHAT, user_id=USER, text="share me")
    count = len(await telegram.wait_for_text(CHAT, "Echo: share me"))

    texts = await say(telegram, "/share", count=count + 1)
    link = texts[-1].splitlines()[0]
    assert re.fullmatch(re.escape(salon) + r"/s/[\w-]+", link), texts[-1]
    async with httpx.AsyncClient(timeout=30) as anonymous:
        assert (await anonymous.get(link, headers=HTML)).status_code == 200
        chat_id = (await conversations(account))[0]["id"]

        texts = await say(telegram, "/share private", count=count + 2)
        assert texts[-1].splitlines()[0] == link
        assert "signed in" in texts[-1]
        assert (await anonymous.get(link, headers=HTML)).status_code != 200
    share = (await account.http.get(f"/api/v1/chats/{chat_id}/share")).json()
    assert share["is_public"] is False

    texts = await say(telegram, "/share live", count=count + 3)
    assert texts[-1].splitlines()[0] == link
    texts = await say(telegram, "/share password open sesame", count=count + 4)
    assert "password" in texts[-1]
    share = (await account.http.get(f"/api/v1/chats/{chat_id}/share")).json()
    assert share["live"] is True and share["has_password"] is True
    texts = await say(telegram, "/share sideways", count=count + 5)
    assert texts[-1] == SHARE_USAGE


async def test_share_refused_when_sharing_is_disabled(
        salon: str, telegram: FakeTelegramServer, account: Account) -> None:
    count = await linked_with_answer(telegram, account, "keep this")
    r = await account.http.post("/api/v1/auths/admin/config", json={"ENABLE_SHARING": False})
    assert r.status_code == 200, r.text
    texts = await say(telegram, "/share", count=count + 1)
    assert texts[-1] == SHARING_DISABLED_DETAIL
    assert (await account.http.get("/api/v1/chats/shared")).json().get("total", 0) == 0


@pytest.mark.parametrize("extra_settings", [{"user_permissions_chat_share": False}])
async def test_share_refused_without_the_share_permission(
        salon: str, telegram: FakeTelegramServer, account: Account) -> None:
    count = await linked_with_answer(telegram, account, "no sharing")
    texts = await say(telegram, "/share", count=count + 1)
    assert texts[-1] == SHARING_DISABLED_DETAIL


@pytest.mark.parametrize("extra_settings", [{"user_permissions_sharing_public_chat": False}])
async def test_share_private_only_without_the_public_permission(
        salon: str, telegram: FakeTelegramServer, account: Account) -> None:
    count = await linked_with_answer(telegram, account, "signed in only")
    texts = await say(telegram, "/share", count=count + 1)
    assert "Only people signed in to Salon" in texts[-1]
    texts = await say(telegram, "/share public", count=count + 2)
    assert texts[-1] == "Your account may only create links for logged-in users."


WEBHOOK = {"telegram_mode": "webhook", "telegram_webhook_secret": "s3cret-Token_1"}


@pytest.mark.parametrize("extra_settings", [WEBHOOK])
async def test_webhook_mode(salon: str, telegram: FakeTelegramServer, account: Account) -> None:
    # At start Salon registered its webhook, with the secret, and does not poll.
    assert telegram.webhook_url == f"{salon}/telegram/webhook"
    assert telegram.webhook_secret == WEBHOOK["telegram_webhook_secret"]
    code = await link_code(account)
    update = telegram.make_update(chat_id=CHAT, user_id=USER, text=f"/link {code}")
    assert telegram.deliver(update, secret="wrong") == 403
    assert telegram.deliver(update, secret="") == 403
    assert telegram.chat_texts(CHAT) == []
    assert telegram.deliver(update) == 200
    texts = await telegram.wait_for_replies(CHAT, count=1)
    assert texts[0].startswith("Linked to the Salon account of Ada")
    telegram.deliver(telegram.make_update(chat_id=CHAT, user_id=USER, text="over the hook"))
    await telegram.wait_for_text(CHAT, "Echo: over the hook")
    assert "getUpdates" not in telegram.methods()


async def test_webhook_route_is_off_in_polling_mode(salon: str,
                                                    telegram: FakeTelegramServer) -> None:
    async with httpx.AsyncClient(base_url=salon) as http:
        r = await http.post("/telegram/webhook", json={"update_id": 1},
                            headers={"X-Telegram-Bot-Api-Secret-Token": ""})
    assert r.status_code == 404
    assert r.json()["code"] == "NOT_FOUND"


async def test_a_chats_messages_are_answered_in_order(
        salon_app: tuple[str, Any], telegram: FakeTelegramServer, account: Account) -> None:
    """Two messages arriving together continue one conversation, in order; then the bot
    keeps nothing for the chat (its per-chat lock is gone)."""
    await linked(telegram, account)
    telegram.send_text(chat_id=CHAT, user_id=USER, text="one")
    telegram.send_text(chat_id=CHAT, user_id=USER, text="two")
    await telegram.wait_until(CHAT, lambda texts: texts[-2:] == ["Echo: one", "Echo: two"],
                              timeout=20)
    [conversation] = await conversations(account)
    r = await account.http.get(f"/api/v1/chats/{conversation['id']}")
    assert [m["content"] for m in r.json()["chat"]["messages"]] == [
        "one", "Echo: one", "two", "Echo: two"]
    runner = salon_app[1].state.telegram
    deadline = time.monotonic() + 10  # the answer is stored after its last words are shown
    while runner._chat_locks and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not runner._chat_locks and not runner._chat_waiting


REDIS = {"redis_url": "redis://127.0.0.1:6379/0"}


@pytest.mark.parametrize("extra_settings", [REDIS])
async def test_one_of_several_servers_polls(
        salon_app: tuple[str, Any], telegram: FakeTelegramServer, account: Account,
        settings: Settings) -> None:
    """Two servers (as ``salon serve --workers 2`` runs) on one database and Redis: one polls
    at a time, so Telegram never refuses a getUpdates and each message is answered once."""
    with serve(settings):
        await linked(telegram, account)
        for text in ("first", "second", "third"):
            telegram.send_text(chat_id=CHAT, user_id=USER, text=text)
            await telegram.wait_for_text(CHAT, f"Echo: {text}")
        texts = telegram.chat_texts(CHAT)
        assert [t for t in texts if t.startswith("Echo:")] == [
            "Echo: first", "Echo: second", "Echo: third"]
        assert telegram.conflicts == 0
