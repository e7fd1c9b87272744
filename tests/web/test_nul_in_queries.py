"""A NUL in a link or id given in the URL (a query or a path) is a 4xx on every database, never a
500: PostgreSQL refuses NUL in text, so such a value must not reach a query."""

from __future__ import annotations

import pytest

from tests.factories import UserClient


@pytest.mark.parametrize(("method", "url"), [
    ("DELETE", "/api/chat/share?public_conversation_slug=ab%00cd"),
    ("GET", "/api/v1/chats/ab%00cd"),
    ("GET", "/api/v1/chats/share/ab%00cd"),
    ("GET", "/api/chat/history?conversation_id=ab%00cd"),
])
async def test_a_nul_in_the_url_is_a_client_error(
    alice: UserClient, method: str, url: str
) -> None:
    r = await alice.http.request(method, url)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
