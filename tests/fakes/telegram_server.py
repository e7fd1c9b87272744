"""A fake Telegram Bot API server: real HTTP, Telegram's methods, answers and errors.

In tests::

    with FakeTelegramServer(token="123:abc") as telegram:
        settings = Settings(telegram_bot_token="123:abc", telegram_api_url=telegram.url, ...)
        telegram.send_text(chat_id=7, user_id=42, text="/help")      # a user writes
        replies = await telegram.wait_for_replies(7, count=1)          # what the bot shows

Methods (``POST /bot<token>/<method>``, JSON or form body), as Telegram answers them:
``getMe``; ``getUpdates`` (``offset`` confirms the updates before it; ``timeout`` holds the
call open until an update arrives; 409 while a webhook is set, and 409 to a call made while
another is open, counted in ``conflicts``: two processes poll one bot); ``sendMessage``
(400 past 4096 characters or for empty text); ``editMessageText`` (400 "message is not
modified" for the same text); ``sendChatAction``, ``setWebhook``, ``deleteWebhook``,
``getWebhookInfo``. A wrong token is 401 "Unauthorized", an unknown method 404 "Not Found".

With a webhook set, ``deliver(update)`` POSTs the update to it with the registered secret in
``X-Telegram-Bot-Api-Secret-Token`` (as Telegram does) and returns the HTTP status.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Salon", "username": "SalonTestBot"}
MAX_TEXT = 4096


@dataclass
class SentMessage:
    message_id: int
    chat_id: int
    text: str
    edits: list[str] = field(default_factory=list)


class FakeTelegramServer:
    """Serves the fake Bot API from a background thread; ``url`` is the API base URL."""

    def __init__(self, *, token: str, host: str = "127.0.0.1") -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (method, params), oldest first
        self.messages: list[SentMessage] = []
        self.webhook_url = ""
        self.webhook_secret = ""
        self.conflicts = 0
        self.polls_open = 0
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1000
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(_create_app(self), loop="asyncio", ws="none", lifespan="off",
                                log_level="warning", access_log=False,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeTelegramServer:
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Telegram server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    # --- the test's side ----------------------------------------------------------------------

    def make_update(self, *, chat_id: int, user_id: int, text: str,
                    username: str = "tguser") -> dict[str, Any]:
        with self._lock:
            self._next_update_id += 1
            update_id = self._next_update_id
        return {"update_id": update_id, "message": {
            "message_id": update_id, "date": int(time.time()), "text": text,
            "from": {"id": user_id, "is_bot": False, "first_name": "Test",
                     "username": username},
            "chat": {"id": chat_id, "type": "private" if chat_id == user_id else "group"}}}

    def send_text(self, *, chat_id: int, user_id: int, text: str,
                  username: str = "tguser") -> None:
        """A user writes ``text`` in the chat: the bot gets it from getUpdates."""
        update = self.make_update(chat_id=chat_id, user_id=user_id, text=text,
                                  username=username)
        with self._lock:
            self._updates.append(update)

    def deliver(self, update: dict[str, Any], *, secret: str | None = None) -> int:
        """POST ``update`` to the webhook as Telegram does (``secret`` overrides the
        registered one); returns the status."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret if secret is not None
                   else self.webhook_secret}
        return httpx.post(self.webhook_url, json=update, headers=headers, timeout=10).status_code

    def chat_texts(self, chat_id: int) -> list[str]:
        """The bot's messages in the chat as they read now (edits applied), oldest first."""
        with self._lock:
            return [m.text for m in self.messages if m.chat_id == chat_id]

    def methods(self) -> list[str]:
        with self._lock:
            return [method for method, _ in self.calls]

    async def wait_for_replies(self, chat_id: int, *, count: int,
                               timeout: float = 20) -> list[str]:
        """The chat's bot messages once there are at least ``count`` (the reply to a command
        is one sendMessage; an answer being written may still be edited)."""
        return await self.wait_until(chat_id, lambda texts: len(texts) >= count,
                                     timeout=timeout)

    async def wait_for_text(self, chat_id: int, text: str, *, timeout: float = 20) -> list[str]:
        """The chat's bot messages once one of them reads ``text`` (an answer, edited to
        its end)."""
        return await self.wait_until(chat_id, lambda texts: text in texts, timeout=timeout)

    async def wait_until(self, chat_id: int, ready: Callable[[list[str]], bool], *,
                         timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = self.chat_texts(chat_id)
            if ready(texts):
                return texts
            await asyncio.sleep(0.05)
        raise AssertionError(f"chat {chat_id} shows {self.chat_texts(chat_id)!r}")

    # --- the API's side -----------------------------------------------------------------------

    def take_updates(self, offset: int | None) -> list[dict[str, Any]]:
        with self._lock:
            if offset is not None:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return list(self._updates)

    def record(self, method: str, params: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((method, params))

    def is_stopping(self) -> bool:
        return self._stopping.is_set()

    def lock(self) -> threading.Lock:
        return self._lock


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": status, "description": description},
                        status_code=status)


def _create_app(fake: FakeTelegramServer) -> Starlette:
    async def method(request: Request) -> JSONResponse:
        if request.path_params["token"] != fake.token:
            return _error(401, "Unauthorized")
        name = request.path_params["method"]
        if request.headers.get("content-type", "").startswith("application/json"):
            params = await request.json()
        else:
            params = dict(await request.form())
        fake.record(name, params)
        handler = HANDLERS.get(name)
        if handler is None:
            return _error(404, "Not Found")
        return await handler(fake, params)

    return Starlette(routes=[Route("/bot{token}/{method}", method, methods=["GET", "POST"])])


async def _get_me(fake: FakeTelegramServer, params: dict[str, Any]) -> JSONResponse:
    return _ok(BOT_USER)


async def _get_updates(fake: FakeTelegramServer, params: dict[str, Any]) -> JSONResponse:
    if fake.webhook_url:
        return _error(409, "Conflict: can't use getUpdates method while webhook is active; "
                           "use deleteWebhook to delete the webhook first")
    with fake.lock():
        if fake.polls_open:
            fake.conflicts += 1
            return _error(409, "Conflict: terminated by other getUpdates request; make sure "
                               "that only one bot instance is running")
        fake.polls_open += 1
    try:
        offset = params.get("offset")
        deadline = time.monotonic() + float(params.get("timeout", 0))
        while True:
            updates = fake.take_updates(int(offset) if offset is not None else None)
            if updates or time.monotonic() >= deadline or fake.is_stopping():
                return _ok(updates)
            await asyncio.sleep(0.02)
    finally:
        with fake.lock():
            fake.polls_open -= 1


def _check_text(text: Any) -> JSONResponse | None:
    if not isinstance(text, str) or not text.strip():
        return _error(400, "Bad Request: message text is empty")
    if len(text) > MAX_TEXT:
        return _error(400, "Bad Request: message is too long")
    return None


async def _send_message(fake: FakeTelegramServer, params: dict[str, Any]) -> JSONResponse:
    refusal = _check_text(params.get("text"))
    if refusal is not None:
        return refusal
    chat_id = int(params["chat_id"])
    with fake.lock():
        message = SentMessage(message_id=len(fake.messages) + 1, chat_id=chat_id,
                              text=params["text"])
        fake.messages.append(message)
    return _ok({"message_id": message.message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"}, "from": BOT_USER,
                "text": message.text})


async def _edit_message_text(fake: FakeTelegramServer, params: dict[str, Any]) -> JSONResponse:
    refusal = _check_text(params.get("text"))
    if refusal is not None:
        return refusal
    with fake.lock():
        found = [m for m in fake.messages if m.message_id == int(params["message_id"])
                 and m.chat_id == int(params["chat_id"])]
        if not found:
            return _error(400, "Bad Request: message to edit not found")
        if found[0].text == params["text"]:
            return _error(400, "Bad Request: message is not modified")
        found[0].edits.append(found[0].text)
        found[0].text = params["text"]
    return _ok({"message_id": found[0].message_id, "text": found[0].text})


async def _send_chat_action(fake: FakeTelegramServer, params: dict[str, Any]) -> JSONResponse:
    return _ok(True)


async def _set_webhook(fake: FakeTelegramServer, params: dict[str, Any]) -> JSONResponse:
    fake.webhook_url = str(params.get("url", ""))
    fake.webhook_secret = str(params.get("secret_token", ""))
    return _ok(True)


async def _delete_webhook(fake: FakeTelegramServer, params: dict[str, Any]) -> JSONResponse:
    fake.webhook_url = fake.webhook_secret = ""
    return _ok(True)


async def _get_webhook_info(fake: FakeTelegramServer, params: dict[str, Any]) -> JSONResponse:
    return _ok({"url": fake.webhook_url, "pending_update_count": 0})


HANDLERS = {
    "getMe": _get_me, "getUpdates": _get_updates, "sendMessage": _send_message,
    "editMessageText": _edit_message_text, "sendChatAction": _send_chat_action,
    "setWebhook": _set_webhook, "deleteWebhook": _delete_webhook,
    "getWebhookInfo": _get_webhook_info,
}
