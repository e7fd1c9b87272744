"""Share links are capabilities: the access log never records one."""

from __future__ import annotations

import logging

import httpx
import pytest

from salon.config import Settings
from salon.web.access_log import ACCESS_LOGGER, RedactShareLinks, install, redact_path
from tests.web.test_live_server import serve, sign_up

LINK = "Zk3_secret-Link.~x"


@pytest.mark.parametrize(("path", "expected"), [
    (f"/s/{LINK}", "/s/…"),
    (f"/s/{LINK}?clone=1", "/s/…?clone=1"),
    (f"/s/{LINK}/unlock", "/s/…/unlock"),
    (f"/share/chat/{LINK}", "/share/chat/…"),
    (f"/share/{LINK}", "/share/…"),
    (f"/shared/{LINK}", "/shared/…"),
    (f"/api/v1/chats/share/{LINK}", "/api/v1/chats/share/…"),
    (f"/api/v1/chats/share/{LINK}/files/0", "/api/v1/chats/share/…/files/0"),
    (f"/api/v1/chats/share/{LINK}/verify", "/api/v1/chats/share/…/verify"),
    (f"/api/v1/chats/{LINK}/clone/shared", "/api/v1/chats/…/clone/shared"),
    (f"/login?next=%2Fs%2F{LINK}%3Fclone%3D1", "/login?next=…"),
    (f"/login?x=1&next=/s/{LINK}", "/login?x=1&next=…"),
    (f"/api/chat/share?public_conversation_slug={LINK}",
     "/api/chat/share?public_conversation_slug=…"),
    (f"/api/chat/share?client=web&public_conversation_slug={LINK}&x=1",
     "/api/chat/share?client=web&public_conversation_slug=…&x=1"),
    # Not links: left alone.
    ("/shared", "/shared"),
    ("/shared?status=active&page=2", "/shared?status=active&page=2"),
    ("/api/v1/chats/shared/meta", "/api/v1/chats/shared/meta"),
    ("/api/v1/chats/abc-123/share", "/api/v1/chats/abc-123/share"),
    ("/api/v1/chats/abc-123", "/api/v1/chats/abc-123"),
    ("/static/salon.css", "/static/salon.css"),
])
def test_links_are_replaced(path: str, expected: str) -> None:
    assert redact_path(path) == expected
    assert LINK not in redact_path(path)


def test_uvicorn_access_records_are_rewritten(caplog: pytest.LogCaptureFixture) -> None:
    install()
    install()  # once only
    logger = logging.getLogger(ACCESS_LOGGER)
    assert sum(isinstance(f, RedactShareLinks) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/s/{LINK}", "1.1",
                    200)
    assert caplog.messages == ['127.0.0.1:5000 - "GET /s/… HTTP/1.1" 200']


async def test_a_real_khoj_unshare_is_logged_without_its_link(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Through a real server: the access record of Khoj's unshare names the route, not the
    link it revoked."""
    logger = logging.getLogger(ACCESS_LOGGER)
    with serve(settings) as base:
        headers = await sign_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as c:
            r = await c.post("/api/chat", json={"q": "hello", "stream": False})
            chat_id = r.json()["conversationId"]
            r = await c.post("/api/chat/share", json={"conversation_id": chat_id})
            link = r.json()["url"].rsplit("/", 1)[1]
            logger.addHandler(caplog.handler)
            try:
                with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
                    r = await c.delete("/api/chat/share",
                                       params={"public_conversation_slug": link})
                    assert r.status_code == 200, r.text
            finally:
                logger.removeHandler(caplog.handler)
    unshares = [m for m in caplog.messages if "DELETE /api/chat/share" in m]
    assert unshares == [unshares[0]] and "public_conversation_slug=…" in unshares[0]
    assert all(link not in m for m in caplog.messages)
