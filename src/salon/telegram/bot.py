"""One Telegram message in, the bot's replies out.

Linked users chat with Salon through the same chat service as the web: each Telegram chat
continues one Salon conversation until ``/new``. ``/share`` makes (or restores) the
conversation's link with the sharing service, so the user's permissions and the instance's
switch decide as they do on the web. Unlinked users are told how to link.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from salon.domain.errors import NotFound, SalonError
from salon.domain.shares import Share
from salon.domain.users import User
from salon.services import chat as chat_service
from salon.services import shares, turns
from salon.services import telegram as links
from salon.services.context import AppContext
from salon.telegram.api import MAX_MESSAGE_CHARS, BotApi, split_message

logger = logging.getLogger(__name__)

# An answer being written is shown by editing one message at most this often.
EDIT_EVERY_SECONDS = 1.0

HELP = """Salon in Telegram. Send a message to chat; the chat continues one Salon conversation.
/new — start a new conversation
/share — the conversation's link (made if needed)
/share private — a link for people signed in to Salon
/share public — a link for anyone
/share live — the link follows the conversation as it goes on
/share password WORDS — a link that asks for a password
/link CODE — link this Telegram account to your Salon account
/help — this message"""

NOT_LINKED = ("This Telegram account is not linked to a Salon account yet. In Salon, open "
              "Settings, press “Link Telegram”, and send the code here as /link CODE.")
LINK_USAGE = ("Send /link with the code that Salon's Settings show under Telegram "
              "(“Link Telegram”), e.g. /link K7Q2M9XA.")
SHARE_USAGE = "Use /share, /share private, /share public, /share live or /share password WORDS."


@dataclass(frozen=True)
class Incoming:
    """A text message from a person: the chat it is in, who wrote it, and the text."""

    chat_id: int
    user_id: int
    name: str
    text: str


def parse_update(update: dict[str, Any]) -> Incoming | None:
    """The update's text message, None for anything else (edits, photos, bots, channels)."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    sender, chat_info, text = message.get("from"), message.get("chat"), message.get("text")
    if not (isinstance(sender, dict) and isinstance(chat_info, dict) and isinstance(text, str)):
        return None
    if sender.get("is_bot") or not isinstance(sender.get("id"), int):
        return None
    if not isinstance(chat_info.get("id"), int):
        return None
    name = sender.get("username") or " ".join(
        str(part) for part in (sender.get("first_name"), sender.get("last_name")) if part)
    return Incoming(chat_id=chat_info["id"], user_id=sender["id"], name=f"{name}", text=text)


def split_command(text: str) -> tuple[str, str]:
    """``("share", "live")`` for "/share@SalonBot live"; ``("", text)`` for plain text."""
    if not text.startswith("/"):
        return "", text
    head, _, rest = text.partition(" ")
    return head[1:].split("@", 1)[0].lower(), rest.strip()


class Bot:
    """Answers messages for one Salon instance. ``base_url`` starts the links it replies."""

    def __init__(self, ctx: AppContext, api: BotApi, *, base_url: str) -> None:
        self.ctx = ctx
        self.api = api
        self.base_url = base_url.rstrip("/")

    async def handle(self, msg: Incoming) -> None:
        command, rest = split_command(msg.text)
        if command == "help":
            await self.reply(msg, HELP)
            return
        if command in ("start", "link") and rest:
            await self.link(msg, rest)
            return
        if command == "link":
            await self.reply(msg, LINK_USAGE)
            return
        user = await links.get_linked_user(self.ctx, msg.user_id)
        if user is None:
            await self.reply(msg, NOT_LINKED)
        elif command == "start":
            await self.reply(msg, f"Hello {user.name}! Send a message to chat with Salon.\n\n"
                                  + HELP)
        elif command == "new":
            await links.set_chat_conversation(self.ctx, chat_id=msg.chat_id,
                                              telegram_user_id=msg.user_id,
                                              conversation_id=None)
            await self.reply(msg, "Started a new conversation: send your first message.")
        elif command == "share":
            await self.share(msg, user, rest)
        else:
            await self.chat(msg, user)

    async def reply(self, msg: Incoming, text: str) -> None:
        for piece in split_message(text):
            await self.api.send_message(msg.chat_id, piece)

    async def link(self, msg: Incoming, code: str) -> None:
        try:
            user = await links.link_account(self.ctx, code=code, telegram_user_id=msg.user_id,
                                            telegram_name=msg.name)
        except SalonError as exc:
            await self.reply(msg, exc.detail)
            return
        await self.reply(msg, f"Linked to the Salon account of {user.name}. Send a message "
                              "to chat; /help lists the commands.")

    async def share(self, msg: Incoming, user: User, args: str) -> None:
        changes = share_changes(args)
        if changes is None:
            await self.reply(msg, SHARE_USAGE)
            return
        conversation_id = await links.get_chat_conversation(
            self.ctx, chat_id=msg.chat_id, telegram_user_id=msg.user_id)
        if conversation_id is None:
            await self.reply(msg, "Nothing to share yet: send a message first.")
            return
        try:
            share = await shares.share_or_restore(self.ctx, user, conversation_id)
            if changes:
                share = await shares.save_share(self.ctx, user, conversation_id, changes)
        except SalonError as exc:
            await self.reply(msg, exc.detail)
            return
        await self.reply(msg, f"{self.base_url}/s/{share.share_id}\n{share_summary(share)}")

    async def chat(self, msg: Incoming, user: User) -> None:
        conversation_id = await links.get_chat_conversation(
            self.ctx, chat_id=msg.chat_id, telegram_user_id=msg.user_id)
        try:
            turn = await self.start_turn(user, msg, conversation_id)
        except SalonError as exc:
            await self.reply(msg, exc.detail)
            return
        if turn.conversation.id != conversation_id:
            await links.set_chat_conversation(self.ctx, chat_id=msg.chat_id,
                                              telegram_user_id=msg.user_id,
                                              conversation_id=turn.conversation.id)
        await self.api.send_typing(msg.chat_id)
        writer = AnswerWriter(self.api, msg.chat_id)
        async for event in chat_service.stream_answer(self.ctx, user, turn):
            if event.type == "message":
                await writer.add(str(event.data))
            elif event.type == "error":
                await writer.add(f"\n\n⚠️ {event.data['detail']}")
        await writer.finish()

    async def start_turn(self, user: User, msg: Incoming, conversation_id: str | None
                         ) -> turns.Turn:
        """The question stored in the chat's conversation, or in a new one when that
        conversation was deleted on the web."""
        request = turns.ChatRequest(q=msg.text, conversation_id=conversation_id)
        try:
            return await turns.start_turn(self.ctx, user, request)
        except NotFound:
            if conversation_id is None:
                raise
            request = turns.ChatRequest(q=msg.text)
            return await turns.start_turn(self.ctx, user, request)


def share_changes(args: str) -> dict[str, Any] | None:
    """The share options ``/share ARGS`` asks for ({} keeps the share's), None if unknown."""
    option, _, value = args.partition(" ")
    option = option.lower()
    if option == "":
        return {}
    if option in ("private", "public") and not value:
        return {"is_public": option == "public"}
    if option == "live" and not value:
        return {"live": True}
    if option == "password" and value.strip():
        return {"password": value.strip()}
    return None


def share_summary(share: Share) -> str:
    """Who may open the link, and what they see, in a sentence or two."""
    who = ("Anyone with the link can open it" if share.is_public
           else "Only people signed in to Salon can open it")
    password = ", with the password" if share.has_password else ""
    what = ("It is live: new messages show up there." if share.live
            else "It shows the conversation as it was when shared.")
    return f"{who}{password}. {what}"


class AnswerWriter:
    """Shows an answer as it is written: one message, edited at most every
    EDIT_EVERY_SECONDS while it fits, then the rest in more messages when it is done."""

    def __init__(self, api: BotApi, chat_id: int) -> None:
        self.api = api
        self.chat_id = chat_id
        self.text = ""
        self.shown = ""
        self.message_id: int | None = None
        self.shown_at = 0.0

    async def add(self, text: str) -> None:
        self.text += text
        due = time.monotonic() - self.shown_at >= EDIT_EVERY_SECONDS
        if due and self.text.strip() and len(self.text) <= MAX_MESSAGE_CHARS:
            await self.show(self.text)

    async def show(self, text: str) -> None:
        if text == self.shown:
            return
        if self.message_id is None:
            self.message_id = await self.api.send_message(self.chat_id, text)
        else:
            await self.api.edit_message(self.chat_id, self.message_id, text)
        self.shown = text
        self.shown_at = time.monotonic()

    async def finish(self) -> None:
        first, *rest = split_message(self.text.strip() or "(no answer)")
        await self.show(first)
        for piece in rest:
            await self.api.send_message(self.chat_id, piece)
