"""Message parts to safe HTML: one renderer for the chat page and the share page."""

from salon.render.parts import render_markdown, render_message

__all__ = ["render_markdown", "render_message"]
