"""The commands this server offers, and the tool a turn's command runs.

The image tool (and with it the HTTP client) loads when a command list or a tool is first
asked for, not with the server (``tests/test_startup.py``)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

from salon.domain.commands import Command, commands_here
from salon.llm.base import ChatMessage, GenerationParams
from salon.services.context import AppContext
from salon.services.turns import Turn
from salon.tools import ToolResult, ToolStatus
from salon.tools.diagram import write_diagram


def server_commands(ctx: AppContext) -> tuple[Command, ...]:
    """The commands with this server's settings (``/image`` needs an images API)."""
    from salon.tools.image import image_api

    return commands_here({"image"} if image_api(ctx.settings) else set())


def tool_for(ctx: AppContext, turn: Turn, messages: list[ChatMessage],
             params: GenerationParams) -> AsyncIterator[ToolStatus | ToolResult] | None:
    """The tool the turn's command runs (None: a plain answer)."""
    from salon.services import web_fetch
    from salon.tools.image import image_api, make_image

    name = turn.command.name if turn.command is not None else None
    api = image_api(ctx.settings)
    if name == "diagram":
        return write_diagram(ctx.provider, messages, params)
    if name == "image" and api is not None:
        fetch_url = functools.partial(
            web_fetch.fetch, limits=web_fetch.limits(ctx.settings),
            allow=web_fetch.allow_list(ctx.settings), accept="image/*")
        return make_image(ctx.provider, messages, params, api=api, fetch_url=fetch_url)
    return None
