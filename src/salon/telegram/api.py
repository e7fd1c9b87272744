"""The few Bot API methods the bot uses, over httpx (already one of Salon's dependencies).

Every method is ``POST {SALON_TELEGRAM_API_URL}/bot<token>/<method>`` with a JSON body, and
every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description"}``.
"""

from __future__ import annotations

from typing import Any

import httpx

# Telegram refuses longer messages.
MAX_MESSAGE_CHARS = 4096
# Seconds Telegram holds a getUpdates call open when nothing arrives.
POLL_TIMEOUT_SECONDS = 25


class BotApiError(Exception):
    """Telegram refused a call (``status`` is its error_code) or could not be reached (0)."""

    def __init__(self, method: str, status: int, description: str) -> None:
        super().__init__(f"Telegram {method}: {status} {description}")
        self.status = status


class BotApi:
    def __init__(self, *, token: str, api_url: str) -> None:
        # The read timeout outlasts a long poll; the token is in every URL, never logged.
        self._base = f"{api_url.rstrip('/')}/bot{token}"
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(
            POLL_TIMEOUT_SECONDS + 15, connect=10))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, **params: Any) -> Any:
        """The method's ``result``; BotApiError when Telegram refuses or cannot be reached."""
        body = {name: value for name, value in params.items() if value is not None}
        try:
            response = await self._http.post(f"{self._base}/{method}", json=body)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BotApiError(method, 0, type(exc).__name__) from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            detail = answer.get("description", "") if isinstance(answer, dict) else ""
            raise BotApiError(method, response.status_code, str(detail))
        return answer.get("result")

    async def get_updates(self, *, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        result = await self.call("getUpdates", offset=offset, timeout=timeout,
                                 allowed_updates=["message"])
        return [update for update in result or [] if isinstance(update, dict)]

    async def send_message(self, chat_id: int, text: str) -> int:
        """Send plain text (no Markdown: a model's answer is not valid Telegram markup);
        returns the new message's id."""
        result = await self.call("sendMessage", chat_id=chat_id, text=text,
                                 link_preview_options={"is_disabled": True})
        return int(result["message_id"])

    async def edit_message(self, chat_id: int, message_id: int, text: str) -> None:
        await self.call("editMessageText", chat_id=chat_id, message_id=message_id, text=text,
                        link_preview_options={"is_disabled": True})

    async def send_typing(self, chat_id: int) -> None:
        await self.call("sendChatAction", chat_id=chat_id, action="typing")

    async def set_webhook(self, url: str, *, secret: str) -> None:
        await self.call("setWebhook", url=url, secret_token=secret,
                        allowed_updates=["message"])

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """``text`` in pieces Telegram accepts, cut at a line break (else a space) where one is
    in the second half of a piece; never an empty list."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", limit // 2, limit)
        if cut == -1:
            cut = text.rfind(" ", limit // 2, limit)
        if cut == -1:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    return [*pieces, text] if text or not pieces else pieces
