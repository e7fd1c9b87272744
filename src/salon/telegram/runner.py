"""Running the bot: long polling (``getUpdates``) or a webhook, inside ``salon serve`` or
alone (``salon telegram``).

Each update is answered in its own task, so one long answer does not hold up other chats;
messages of one chat are answered in order. With several workers (``SALON_REDIS_URL``) one of
them polls, holding a lease in Redis; Telegram refuses two pollers of one bot. Failures to
reach Telegram are logged and retried with a growing pause; they never stop the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections import Counter
from typing import Any

from salon.config import Settings
from salon.services.context import AppContext
from salon.telegram import WEBHOOK_PATH
from salon.telegram.api import POLL_TIMEOUT_SECONDS, BotApi, BotApiError
from salon.telegram.bot import Bot, Incoming, parse_update

logger = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 60.0
# With several workers (SALON_REDIS_URL), one polls at a time: it holds a lease in Redis for
# this long, renewed before each getUpdates; the others try again every half lease, so one
# takes over within that when the poller's worker dies.
POLL_LEASE_SECONDS = 60
# Renew the lease if it is still ours (else leave it); give it up if it is ours.
_RENEW = """if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('expire', KEYS[1], ARGV[2]) end
return redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) and 1 or 0"""
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0"""


def public_base_url(settings: Settings) -> str:
    """Where people (and Telegram's webhook calls) reach this server."""
    return (settings.base_url or f"http://{settings.host}:{settings.port}").rstrip("/")


class TelegramRunner:
    """The bot of one process. ``start`` registers the webhook or begins polling; ``stop``
    ends polling and the answers being written (they are stored as interrupted)."""

    def __init__(self, ctx: AppContext) -> None:
        settings = ctx.settings
        self.settings = settings
        self.api = BotApi(token=settings.telegram_bot_token, api_url=settings.telegram_api_url)
        self.bot = Bot(ctx, self.api, base_url=public_base_url(settings))
        self._tasks: set[asyncio.Task[None]] = set()
        # One lock per chat with messages being answered (dropped when none is left).
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._chat_waiting: Counter[int] = Counter()
        self._poller: asyncio.Task[None] | None = None
        self._redis = ctx.redis
        digest = hashlib.sha256(settings.telegram_bot_token.encode()).hexdigest()[:16]
        self._lease_key = f"salon:telegram:poller:{digest}"  # one per bot, never the token
        self._lease_id = uuid.uuid4().hex

    async def start(self) -> None:
        if not self.settings.base_url:
            logger.warning("SALON_BASE_URL is not set: the Telegram bot's links name %s, which "
                           "phones may not reach", public_base_url(self.settings))
        if self.settings.telegram_mode == "webhook":
            url = public_base_url(self.settings) + WEBHOOK_PATH
            try:
                await self.api.set_webhook(url, secret=self.settings.telegram_webhook_secret)
            except BotApiError as exc:
                logger.error("Telegram webhook not registered: %s", exc)
            return
        self._poller = asyncio.create_task(self.poll())

    async def wait(self) -> None:
        """Until polling ends (it ends only when cancelled)."""
        if self._poller is not None:
            await self._poller

    async def stop(self) -> None:
        tasks = [t for t in (self._poller, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._poller is not None and self._redis is not None:
            try:  # so that another worker takes over at once
                await self._redis.eval(_RELEASE, 1, self._lease_key, self._lease_id)
            except Exception as exc:  # it expires by itself
                logger.warning("Telegram polling lease not released: %s", type(exc).__name__)
        await self.api.aclose()

    async def _is_poller(self) -> bool:
        """Whether this process may poll now: always without Redis, else while it holds
        the lease (a Redis that fails is logged and counts as no)."""
        if self._redis is None:
            return True
        try:
            held = await self._redis.eval(_RENEW, 1, self._lease_key, self._lease_id,
                                          POLL_LEASE_SECONDS)
        except Exception as exc:
            logger.warning("Telegram polling lease not renewed: %s", type(exc).__name__)
            return False
        return bool(held)

    async def poll(self) -> None:
        """Fetch updates until cancelled; each is acknowledged (by the next offset) once its
        answer is started, so a restart does not answer it twice."""
        offset: int | None = None
        pause = 1.0
        with contextlib.suppress(BotApiError):
            await self.api.delete_webhook()  # getUpdates is refused while one is set
        while True:
            if not await self._is_poller():
                await asyncio.sleep(POLL_LEASE_SECONDS / 2)
                continue
            try:
                updates = await self.api.get_updates(offset=offset,
                                                     timeout=POLL_TIMEOUT_SECONDS)
            except BotApiError as exc:
                logger.warning("Telegram getUpdates failed (retrying in %.0f s): %s",
                               pause, exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RETRY_SECONDS)
                continue
            pause = 1.0
            for update in updates:
                if isinstance(update.get("update_id"), int):
                    offset = update["update_id"] + 1
                self.receive(update)

    def receive(self, update: dict[str, Any]) -> None:
        """Answer ``update`` in the background (the webhook route returns at once)."""
        msg = parse_update(update)
        if msg is None:
            return
        task = asyncio.create_task(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, msg: Incoming) -> None:
        chat_id = msg.chat_id
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        self._chat_waiting[chat_id] += 1
        try:
            async with lock:
                await self._handle(msg)
        finally:
            self._chat_waiting[chat_id] -= 1
            if not self._chat_waiting[chat_id]:
                del self._chat_waiting[chat_id], self._chat_locks[chat_id]

    async def _handle(self, msg: Incoming) -> None:
        try:
            await self.bot.handle(msg)
        except BotApiError as exc:
            logger.warning("Telegram reply to chat %s failed: %s", msg.chat_id, exc)
        except Exception:
            logger.exception("Telegram message in chat %s not answered", msg.chat_id)
            with contextlib.suppress(BotApiError):
                await self.api.send_message(msg.chat_id, "Something went wrong; please "
                                                         "try again.")
