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

router = APIRouter(include_in_schema=False)
for _module in (auth, chat, settings, admin, shared_dashboard, share_live, share_page):
    router.include_router(_module.router)
