"""Request bodies: the routes anyone may call without an account take small bodies only
(``SALON_MAX_ANONYMOUS_BODY_BYTES``), refused with 413 before they are read, whether the size
is announced (Content-Length) or streamed; everything else keeps ``SALON_MAX_BODY_BYTES``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from salon.config import Settings
from tests.factories import UserClient
from tests.web.test_live_server import serve

HTML = {"accept": "text/html"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
ANONYMOUS_API = ["/api/v1/auths/signin", "/api/v1/auths/signup", "/api/v1/auths/signout",
                 "/api/v1/chats/share/some-link/verify"]
ANONYMOUS_FORMS = ["/login", "/signup", "/logout", "/s/some-link/unlock", "/s/some-link/clone"]


def over(settings: Settings) -> bytes:
    return b"x" * (settings.max_anonymous_body_bytes + 1)


async def streamed(data: bytes, *, chunk: int = 8192) -> AsyncIterator[bytes]:
    """The body without a Content-Length (chunked), a piece at a time."""
    for start in range(0, len(data), chunk):
        yield data[start:start + chunk]


def assert_too_large(r: httpx.Response, settings: Settings) -> None:
    assert r.status_code == 413, (r.status_code, r.text[:200])
    assert r.json() == {"code": "PAYLOAD_TOO_LARGE", "detail": "The request body is larger "
                        f"than {settings.max_anonymous_body_bytes} bytes."}


@pytest.mark.parametrize("path", ANONYMOUS_API + ANONYMOUS_FORMS)
async def test_anonymous_routes_refuse_a_big_body_from_its_length(
    client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    assert_too_large(await client.post(path, content=over(settings), headers=JSON), settings)


# Sign-out reads no body at all: nothing streamed to it is ever taken in.
@pytest.mark.parametrize("path", [p for p in ANONYMOUS_API + ANONYMOUS_FORMS
                                  if p != "/api/v1/auths/signout"])
async def test_anonymous_routes_refuse_a_big_streamed_body(
    client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    headers = JSON if path.startswith("/api/") else FORM
    r = await client.post(path, content=streamed(over(settings)), headers=headers)
    assert "content-length" not in r.request.headers
    assert_too_large(r, settings)


@pytest.mark.parametrize("path", ANONYMOUS_FORMS)
async def test_a_browser_gets_the_error_page(
    client: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    r = await client.post(path, content=over(settings), headers={**HTML, **FORM})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "Too large" in r.text and "content-security-policy" in r.headers


async def test_small_bodies_still_reach_the_routes(
    client: httpx.AsyncClient, alice: UserClient, settings: Settings
) -> None:
    padding = "x" * (settings.max_anonymous_body_bytes - 200)
    r = await client.post("/api/v1/auths/signin", json={
        "email": alice.email, "password": alice.password, "padding": padding})
    assert r.status_code != 413
    r = await client.post("/login", data={"email": alice.email, "password": alice.password,
                                          "padding": padding})
    assert r.status_code == 303


async def test_signed_in_routes_keep_the_global_limit(
    alice: UserClient, settings: Settings
) -> None:
    q = "y" * (settings.max_anonymous_body_bytes + 10_000)
    r = await alice.http.post("/api/chat", json={"q": q, "stream": False})
    assert r.status_code == 200, r.text
    r = await alice.http.post("/api/chat", content=b"z" * (settings.max_body_bytes + 1),
                              headers=JSON)
    assert r.status_code == 413


@pytest.mark.parametrize("path", ["/api/v1/auths/signin", "/login"])
async def test_over_real_http_the_refusal_comes_before_the_body(
    settings: Settings, path: str
) -> None:
    """Only the headers and a few bytes are sent: the 413 arrives without the rest."""
    with serve(settings) as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        length = settings.max_anonymous_body_bytes + 1
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {length}\r\n\r\n{{".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        writer.close()
        await writer.wait_closed()
    assert head.startswith(b"HTTP/1.1 413 ")


@pytest.mark.parametrize("settings_overrides", [{"max_anonymous_body_bytes": 2048}])
async def test_the_anonymous_limit_is_a_setting(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert_too_large(await client.post("/api/v1/auths/signin", content=b"x" * 2049,
                                       headers=JSON), settings)
    r = await client.post("/api/v1/auths/signin", content=b"x" * 2048, headers=JSON)
    assert (r.status_code, r.json()["code"]) == (422, "VALIDATION_ERROR")
