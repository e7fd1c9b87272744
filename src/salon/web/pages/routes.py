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

# The app adds each one's routes itself (``salon.app.add_routes``), outside its API schema:
# not one router of routers, nor included routers, which FastAPI builds again for every level
# of inclusion.
ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (auth, chat, settings, admin, shared_dashboard, share_live, share_page)
)
