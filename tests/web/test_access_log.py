"""Share links are capabilities: the access log never records one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import httpx
import pytest

from salon.config import Settings
from salon.web.access_log import (
    ACCESS_LOGGER,
    RedactShareLinks,
    install,
    redact_path,
    restore,
)
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
    # On the logger itself: once uvicorn has configured logging (another test started a
    # server), its access records no longer propagate to the root logger caplog listens on.
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/s/{LINK}",
                        "1.1", 200)
    finally:
        logger.removeHandler(caplog.handler)
    assert caplog.messages[-1:] == ['127.0.0.1:5000 - "GET /s/… HTTP/1.1" 200']


async def test_a_real_khoj_unshare_is_logged_without_its_link(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Through a real server: the access record of Khoj's unshare names the route, not the
    link it revoked."""
    logger = logging.getLogger(ACCESS_LOGGER)
    with serve(settings) as base:
        headers = await sign_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as c:
            link = await khoj_share(c)
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


async def khoj_share(client: httpx.AsyncClient) -> str:
    """A new chat of ``client``'s account shared through Khoj's route; its link id."""
    r = await client.post("/api/chat", json={"q": "hello", "stream": False})
    chat_id = r.json()["conversationId"]
    r = await client.post("/api/chat/share", json={"conversation_id": chat_id})
    link: str = r.json()["url"].rsplit("/", 1)[1]
    return link


class Lines(logging.Handler):
    """A handler as uvicorn configures one: formats and keeps each line, and the thread that
    wrote it."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[str, int]] = []
        self.done = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.written.append((self.format(record), threading.get_ident()))
        self.done.set()


TEST_LOGGER = "salon.tests.access"  # not uvicorn's, which the test servers configure


@pytest.fixture
def lines() -> Iterator[Lines]:
    """``Lines`` as the only handler of an access logger."""
    logger = logging.getLogger(TEST_LOGGER)
    logger.setLevel(logging.INFO)
    lines = Lines()
    logger.addHandler(lines)
    yield lines
    restore()
    logger.removeHandler(lines)


def test_access_lines_are_formatted_and_written_off_the_request_path(lines: Lines) -> None:
    """The request only queues its record; the access logger's own handler formats and
    writes it on another thread, redacted, in the format it was given."""
    lines.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    install(TEST_LOGGER)
    install(TEST_LOGGER)  # once only
    logging.getLogger(TEST_LOGGER).info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                                        f"/s/{LINK}", "1.1", 200)
    assert lines.done.wait(10)
    assert lines.written == [('INFO 127.0.0.1:5000 - "GET /s/… HTTP/1.1" 200', lines.written[0][1])]
    assert lines.written[0][1] != threading.get_ident()


def test_restore_writes_what_is_queued_and_gives_the_handlers_back(lines: Lines) -> None:
    logger = logging.getLogger(TEST_LOGGER)
    install(TEST_LOGGER)
    assert lines not in logger.handlers
    for n in range(200):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/x/{n}", "1.1", 200)
    restore()
    assert logger.handlers == [lines]
    assert [text for text, _ in lines.written] == [
        f'127.0.0.1:5000 - "GET /x/{n} HTTP/1.1" 200' for n in range(200)]
