"""Telegram's limits and message shapes: long answers in pieces of at most 4096 characters,
commands with a bot's name, updates that are not a person's text."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.telegram.api import MAX_MESSAGE_CHARS, BotApi, BotApiError, split_message
from salon.telegram.bot import AnswerWriter, parse_update, share_changes, split_command
from tests.fakes.telegram_server import FakeTelegramServer

TOKEN = "1:t"


@given(st.text(alphabet=st.sampled_from("ab \n"), max_size=3000),
       st.integers(min_value=10, max_value=200))
def test_split_message_keeps_every_word_within_the_limit(text: str, limit: int) -> None:
    pieces = split_message(text, limit)
    assert pieces and all(len(piece) <= limit for piece in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == (
        text.replace(" ", "").replace("\n", ""))


def test_split_message_cuts_at_line_breaks() -> None:
    text = "\n".join(["x" * 3000] * 3)
    assert split_message(text) == ["x" * 3000] * 3


@pytest.mark.parametrize(("text", "expected"), [
    ("/share@SalonTestBot live", ("share", "live")),
    ("/NEW", ("new", "")),
    ("/share password two words", ("share", "password two words")),
    ("hello /new", ("", "hello /new")),
])
def test_split_command(text: str, expected: tuple[str, str]) -> None:
    assert split_command(text) == expected


@pytest.mark.parametrize(("args", "changes"), [
    ("", {}), ("private", {"is_public": False}), ("PUBLIC", {"is_public": True}),
    ("live", {"live": True}), ("password open sesame", {"password": "open sesame"}),
    ("password", None), ("live now", None), ("sideways", None),
])
def test_share_changes(args: str, changes: dict[str, object] | None) -> None:
    assert share_changes(args) == changes


@pytest.mark.parametrize("update", [
    {"update_id": 1},
    {"update_id": 1, "edited_message": {"text": "x"}},
    {"update_id": 1, "message": {"from": {"id": 1, "is_bot": True}, "chat": {"id": 1},
                                 "text": "from a bot"}},
    {"update_id": 1, "message": {"from": {"id": 1}, "chat": {"id": 1}, "photo": []}},
    {"update_id": 1, "message": {"from": {"id": "1"}, "chat": {"id": 1}, "text": "x"}},
])
def test_updates_other_than_a_persons_text_are_ignored(update: dict[str, object]) -> None:
    assert parse_update(update) is None


@pytest.fixture
async def api() -> AsyncIterator[tuple[BotApi, FakeTelegramServer]]:
    with FakeTelegramServer(token=TOKEN) as telegram:
        client = BotApi(token=TOKEN, api_url=telegram.url)
        yield client, telegram
        await client.aclose()


async def test_a_long_answer_is_sent_in_pieces(api: tuple[BotApi, FakeTelegramServer]) -> None:
    client, telegram = api
    writer = AnswerWriter(client, 9)
    words = [f"word{i} " for i in range(1500)]  # some 12,800 characters
    for word in words:
        await writer.add(word)
    await writer.finish()
    texts = telegram.chat_texts(9)
    assert len(texts) == 4 and all(len(t) <= MAX_MESSAGE_CHARS for t in texts)
    assert " ".join(texts).split() == "".join(words).split()
    assert telegram.messages[0].edits  # the first piece was shown as it was written


async def test_refusals_are_errors(api: tuple[BotApi, FakeTelegramServer]) -> None:
    client, _ = api
    with pytest.raises(BotApiError) as error:
        await client.send_message(9, "x" * (MAX_MESSAGE_CHARS + 1))
    assert error.value.status == 400
    wrong = BotApi(token="2:wrong", api_url=client._base.rsplit("/bot", 1)[0])
    with pytest.raises(BotApiError) as error:
        await wrong.call("getMe")
    assert error.value.status == 401
    await wrong.aclose()
