"""``salon telegram``: the bot alone, run as users run it (a subprocess), until Ctrl+C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.fakes.telegram_server import FakeTelegramServer
from tests.telegram.test_bot import TOKEN
from tests.test_cli import salon, salon_env


def test_salon_telegram_needs_a_token_and_polling(tmp_path: Path) -> None:
    result = salon(tmp_path, "telegram")
    assert result.returncode == 2
    assert "SALON_TELEGRAM_BOT_TOKEN" in result.stderr
    result = salon(tmp_path, "telegram", SALON_TELEGRAM_BOT_TOKEN=TOKEN,
                   SALON_TELEGRAM_MODE="webhook", SALON_TELEGRAM_WEBHOOK_SECRET="s")
    assert result.returncode == 2
    assert "SALON_TELEGRAM_MODE=polling" in result.stderr


async def test_salon_telegram_answers_until_interrupted(tmp_path: Path) -> None:
    with FakeTelegramServer(token=TOKEN) as telegram:
        env = salon_env(tmp_path, SALON_TELEGRAM_BOT_TOKEN=TOKEN,
                        SALON_TELEGRAM_API_URL=telegram.url)
        process = subprocess.Popen([sys.executable, "-m", "salon", "telegram"], env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            telegram.send_text(chat_id=1, user_id=1, text="hi")
            texts = await telegram.wait_for_replies(1, count=1, timeout=60)
            assert "not linked" in texts[0]
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Stopped." in stderr
