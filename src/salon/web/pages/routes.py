"""HTML pages: log-in and sign-up, the chat page, settings, and the admin's user list."""

from __future__ import annotations

from fastapi import APIRouter

from salon.web.pages import (
    admin,
    auth,
    chat,
    settings,
    share_live,
    share_page,
    shared_dashboard,
)

# The app includes each of these itself, outside its API schema. Not one router of routers:
# FastAPI builds a route again for every level of inclusion (some 25 ms more per start).
ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (auth, chat, settings, admin, shared_dashboard, share_live, share_page)
)
