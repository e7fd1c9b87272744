"""The bot's settings: webhook mode needs a secret Telegram accepts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from salon.config import Settings


def test_webhook_mode_needs_a_secret() -> None:
    with pytest.raises(ValidationError, match="SALON_TELEGRAM_WEBHOOK_SECRET"):
        Settings(telegram_bot_token="1:t", telegram_mode="webhook")
    assert Settings(telegram_mode="webhook").telegram_bot_token == ""  # no bot: no check


@pytest.mark.parametrize("secret", ["has space", "x" * 257, "é"])
def test_webhook_secrets_telegram_refuses_are_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match="only A-Z"):
        Settings(telegram_bot_token="1:t", telegram_mode="webhook",
                 telegram_webhook_secret=secret)
