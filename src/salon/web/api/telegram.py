"""``POST /telegram/webhook``: the updates Telegram sends when SALON_TELEGRAM_MODE=webhook.

Only calls carrying SALON_TELEGRAM_WEBHOOK_SECRET in ``X-Telegram-Bot-Api-Secret-Token``
(Telegram adds it, as registered by ``setWebhook``) are taken. The answer is at once; the bot
replies through the Bot API in the background.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from salon.domain.errors import Forbidden, InvalidInput, NotFound
from salon.telegram import WEBHOOK_PATH
from salon.web.deps import Ctx

if TYPE_CHECKING:
    from salon.telegram.runner import TelegramRunner

router = APIRouter()
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@router.post(WEBHOOK_PATH, include_in_schema=False)
async def telegram_webhook(request: Request, ctx: Ctx) -> Any:
    runner: TelegramRunner | None = getattr(request.app.state, "telegram", None)
    if runner is None or ctx.settings.telegram_mode != "webhook":
        raise NotFound("The Telegram bot is not running in webhook mode.")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), ctx.settings.telegram_webhook_secret.encode()):
        raise Forbidden("Wrong or missing Telegram secret.", code="TELEGRAM_SECRET_INVALID")
    try:
        update = json.loads(await request.body())
    except ValueError:
        raise InvalidInput("The update is not JSON.") from None
    if not isinstance(update, dict):
        raise InvalidInput("The update must be a JSON object.")
    runner.receive(update)
    return {"ok": True}
