"""The database going away, in a real browser: a Salon process talks to PostgreSQL through a TCP
proxy this test takes down. A visitor's share page and the owner's dashboard become a friendly
"Temporarily unavailable" page (503, no script errors), and the same pages work again once the
database is back, without restarting Salon. Skipped without SALON_TEST_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.browser.conftest import SalonServer, sign_up
from tests.browser.test_share_page import OpenPage, api, share
from tests.fakes.tcp_proxy import TcpProxy, proxy_in_front_of

pytestmark = pytest.mark.browser


@pytest.fixture
def proxy(pg_database: str) -> Iterator[TcpProxy]:
    with proxy_in_front_of(pg_database) as running:
        yield running


@pytest.fixture
def proxied_salon(pg_database: str, proxy: TcpProxy, tmp_path: Path, fake_llm_url: str
                  ) -> Iterator[SalonServer]:
    url = sa.make_url(pg_database).set(host="127.0.0.1", port=proxy.port)
    server = SalonServer(data_dir=tmp_path, llm_base_url=f"{fake_llm_url}/v1", env={
        "SALON_DATABASE_URL": url.render_as_string(hide_password=False),
        "SALON_DB_CONNECT_TIMEOUT": "1", "SALON_DB_STATEMENT_TIMEOUT": "1"})
    try:
        yield server.start()
    finally:
        server.stop()


def expect_unavailable(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 503
    expect(page.get_by_role("heading", name="Temporarily unavailable")).to_be_visible()
    expect(page.get_by_text("The database is not answering. Try again in a moment.")
           ).to_be_visible()


def test_pages_while_the_database_is_away_then_back(
    open_page: OpenPage, proxied_salon: SalonServer, proxy: TcpProxy,
) -> None:
    owner, _ = open_page()
    sign_up(owner, proxied_salon.url, name="Olivia")
    chat_id = api(owner, proxied_salon.url, "POST", "/api/chat",
                  {"q": "Are you there?", "stream": False})["conversationId"]
    link = share(owner, proxied_salon, chat_id)["url"]
    visitor, _ = open_page()
    visitor.goto(link)
    expect(visitor.get_by_text("Echo: Are you there?")).to_be_visible()

    proxy.down()
    expect_unavailable(visitor, link)
    expect_unavailable(owner, f"{proxied_salon.url}/shared")

    proxy.up()
    visitor.goto(link)
    expect(visitor.get_by_text("Echo: Are you there?")).to_be_visible()
    owner.goto(f"{proxied_salon.url}/shared")
    expect(owner.get_by_role("heading", name="Temporarily unavailable")).to_have_count(0)
