"""Conversation use cases other than sending a message: list, read, rename, delete, filters."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from salon.domain.conversations import (
    DEFAULT_TITLE,
    Conversation,
    Message,
    clean_title,
    slice_history,
    slugify,
)
from salon.domain.errors import InvalidInput, NotFound
from salon.domain.users import User
from salon.services import files as file_service
from salon.services.context import AppContext
from salon.store import conversations as repo
from salon.store import shares as share_repo
from salon.store.db import transaction

MAX_FILE_FILTERS = 100


@dataclass(frozen=True)
class Agent:
    slug: str
    name: str
    color: str
    icon: str


DEFAULT_AGENT = Agent(slug="salon", name="Salon", color="#7C3AED", icon="💬")
# Other clients' names for the default agent.
AGENT_ALIASES = {"salon": DEFAULT_AGENT, "default": DEFAULT_AGENT, "khoj": DEFAULT_AGENT}

STARTERS: tuple[str, ...] = (
    "Explain a concept I'm learning, step by step",
    "Help me write a polite email declining a meeting",
    "Write a Python function that removes duplicates from a list",
    "Summarise the pros and cons of working remotely",
)


def conversation_not_found() -> NotFound:
    return NotFound("Conversation not found.", code="CONVERSATION_NOT_FOUND")


def get_agent(slug: str | None) -> Agent:
    if slug is None:
        return DEFAULT_AGENT
    agent = AGENT_ALIASES.get(slug.strip().lower())
    if agent is None:
        raise NotFound(f"No agent named {slug!r} on this server.", code="AGENT_NOT_FOUND")
    return agent


async def create_conversation(
    ctx: AppContext, user: User, *, title: str | None = None, agent_slug: str | None = None
) -> Conversation:
    agent = get_agent(agent_slug)
    clean = clean_title(title) if title is not None else DEFAULT_TITLE
    now = ctx.now()
    conv = Conversation(
        id=str(uuid.uuid4()),
        user_id=user.id,
        title=clean,
        slug=slugify(clean),
        agent_slug=agent.slug,
        recipe={},
        file_filters=[],
        created_at=now,
        updated_at=now,
    )
    async with transaction(ctx.engine) as conn:
        await repo.insert_conversation(conn, conv)
    return conv


async def get_conversation(ctx: AppContext, user: User, conversation_id: str) -> Conversation:
    async with ctx.engine.connect() as conn:
        conv = await repo.get_conversation(conn, conversation_id, user_id=user.id)
    if conv is None:
        raise conversation_not_found()
    return conv


async def get_history(
    ctx: AppContext, user: User, conversation_id: str | None, *, n: int | None = None
) -> tuple[Conversation, list[Message]]:
    """A conversation and its messages (``n`` as in slice_history). Without an id: the most
    recently updated conversation."""
    async with ctx.engine.connect() as conn:
        if conversation_id is None:
            conv = await repo.get_latest_conversation(conn, user_id=user.id)
        else:
            conv = await repo.get_conversation(conn, conversation_id, user_id=user.id)
        if conv is None:
            raise conversation_not_found()
        messages = await repo.list_messages(conn, conv.id)
    return conv, slice_history(messages, n)


async def list_conversations(
    ctx: AppContext, user: User, *, limit: int | None = None, offset: int = 0
) -> tuple[list[Conversation], int]:
    async with ctx.engine.connect() as conn:
        items = await repo.list_conversations(conn, user_id=user.id, limit=limit, offset=offset)
        total = await repo.count_conversations(conn, user_id=user.id)
    return items, total


async def rename_conversation(
    ctx: AppContext, user: User, conversation_id: str, title: str
) -> Conversation:
    clean = clean_title(title)
    async with transaction(ctx.engine) as conn:
        ok = await repo.update_conversation(
            conn, conversation_id, user_id=user.id, title=clean, slug=slugify(clean),
            updated_at=ctx.now(),
        )
        if not ok:
            raise conversation_not_found()
        await share_repo.follow_title(conn, conversation_id, clean)
        conv = await repo.get_conversation(conn, conversation_id, user_id=user.id)
    assert conv is not None
    ctx.live.publish(conversation_id, "title", {"title": clean})
    return conv


async def delete_conversation(ctx: AppContext, user: User, conversation_id: str) -> None:
    """Delete a conversation with its messages and file rows; blobs nothing else uses go too."""
    async with transaction(ctx.engine) as conn:
        hashes = await repo.conversation_blob_hashes(conn, conversation_id)
        if not await repo.delete_conversation(conn, conversation_id, user_id=user.id):
            raise conversation_not_found()
    ctx.live.publish(conversation_id, "access", {})  # its share went with it
    await file_service.forget_unused_blobs(ctx, hashes)


async def delete_all_conversations(ctx: AppContext, user: User) -> int:
    """Delete every conversation of ``user`` (each as ``delete_conversation`` does: its
    shares end, its viewers are told); returns how many went."""
    deleted = 0
    while True:
        batch, _ = await list_conversations(ctx, user, limit=100)
        if not batch:
            return deleted
        for conv in batch:
            try:
                await delete_conversation(ctx, user, conv.id)
            except NotFound:  # deleted meanwhile by another request
                continue
            deleted += 1


async def get_file_filters(ctx: AppContext, user: User, conversation_id: str) -> list[str]:
    return (await get_conversation(ctx, user, conversation_id)).file_filters


async def change_file_filter(
    ctx: AppContext, user: User, conversation_id: str, filename: str, *, add: bool
) -> list[str]:
    """Add or remove one filename filter; returns the filters after the change."""
    name = filename.strip()
    if not name or len(name) > 255:
        raise InvalidInput("A file filter needs a filename of 1 to 255 characters.",
                           field="filename")
    async with transaction(ctx.engine) as conn:
        conv = await repo.get_conversation(conn, conversation_id, user_id=user.id)
        if conv is None:
            raise conversation_not_found()
        filters = [f for f in conv.file_filters if f != name]
        if add:
            if len(filters) >= MAX_FILE_FILTERS:
                raise InvalidInput(f"A conversation can have at most {MAX_FILE_FILTERS} filters.")
            filters.append(name)
        await repo.update_conversation(conn, conversation_id, user_id=user.id,
                                       file_filters=filters)
    return filters
