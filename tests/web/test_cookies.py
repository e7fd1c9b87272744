"""Cookies over HTTPS are Secure and the session cookie is named ``__Host-salon_session``:
HTTPS straight to Salon, or said by a trusted proxy's ``X-Forwarded-Proto``; over plain HTTP
(or a forwarded header from an address Salon does not trust) they are not, unless
SALON_COOKIE_SECURE forces it. Sessions under the old name keep working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.factories import UserClient

SIGNIN = "/api/v1/auths/signin"


def browser(app: Any, base_url: str, *,
            client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client),
                             base_url=base_url)


async def sign_in(http: httpx.AsyncClient, user: UserClient,
                  **headers: str) -> list[str]:
    r = await http.post(SIGNIN, json={"email": user.email, "password": user.password},
                        headers=headers)
    assert r.status_code == 200, r.text
    return r.headers.get_list("set-cookie")


def session_cookie(set_cookies: list[str]) -> tuple[str, set[str]]:
    """The session cookie's name and its attributes (lower-cased, without values)."""
    [found] = [c for c in set_cookies if "salon_session=" in c]
    name = found.split("=", 1)[0]
    attributes = {a.strip().split("=", 1)[0].lower() for a in found.split(";")[1:]}
    assert "path=/" in found.lower().replace(" ", "")
    return name, attributes


@pytest.fixture
async def https_browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app, "https://testserver") as http:
        yield http


async def test_over_https_the_session_is_secure_and_host_prefixed(
    https_browser: httpx.AsyncClient, alice: UserClient
) -> None:
    name, attributes = session_cookie(await sign_in(https_browser, alice))
    assert name == "__Host-salon_session"
    assert {"secure", "httponly", "samesite"} <= attributes and "domain" not in attributes
    me = await https_browser.get("/api/v1/auths/")
    assert me.status_code == 200 and me.json()["email"] == alice.email


async def test_over_http_the_session_is_neither(app: Any, alice: UserClient) -> None:
    async with browser(app, "http://testserver") as http:
        name, attributes = session_cookie(await sign_in(http, alice))
        assert name == "salon_session" and "secure" not in attributes
        assert (await http.get("/api/v1/auths/")).status_code == 200


async def test_a_trusted_proxy_saying_https_counts(app: Any, alice: UserClient) -> None:
    async with browser(app, "http://testserver") as http:  # the proxy is 127.0.0.1: trusted
        name, attributes = session_cookie(
            await sign_in(http, alice, **{"X-Forwarded-Proto": "https"}))
    assert name == "__Host-salon_session" and "secure" in attributes


async def test_an_untrusted_address_saying_https_does_not(app: Any, alice: UserClient) -> None:
    async with browser(app, "http://testserver", client=("203.0.113.9", 4000)) as http:
        name, attributes = session_cookie(
            await sign_in(http, alice, **{"X-Forwarded-Proto": "https"}))
    assert name == "salon_session" and "secure" not in attributes


@pytest.mark.parametrize("settings_overrides", [{"cookie_secure": True}])
async def test_cookie_secure_forces_secure_over_http(app: Any, alice: UserClient) -> None:
    async with browser(app, "http://testserver") as http:
        name, attributes = session_cookie(await sign_in(http, alice))
    assert name == "__Host-salon_session" and "secure" in attributes


async def test_a_session_under_the_old_name_keeps_working_over_https(
    app: Any, https_browser: httpx.AsyncClient, alice: UserClient
) -> None:
    async with browser(app, "http://testserver") as http:
        await sign_in(http, alice)
        token = http.cookies["salon_session"]
    me = await https_browser.get("/api/v1/auths/", headers={"Cookie": f"salon_session={token}"})
    assert me.status_code == 200 and me.json()["email"] == alice.email


async def test_signing_out_over_https_clears_both_names(
    https_browser: httpx.AsyncClient, alice: UserClient
) -> None:
    await sign_in(https_browser, alice)
    csrf = (await https_browser.get("/api/v1/auths/")).json()["csrf_token"]
    r = await https_browser.post("/api/v1/auths/signout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    cleared = {c.split("=", 1)[0]: c.lower() for c in r.headers.get_list("set-cookie")}
    assert set(cleared) >= {"__Host-salon_session", "salon_session"}
    assert "secure" in cleared["__Host-salon_session"]
    assert (await https_browser.get("/api/v1/auths/")).status_code == 401


def unlock_cookie(set_cookies: list[str]) -> set[str]:
    [found] = [c for c in set_cookies if c.startswith("salon_unlock")]
    return {a.strip().split("=", 1)[0].lower() for a in found.split(";")[1:]}


@pytest.mark.parametrize(("base_url", "secure"), [("https://testserver", True),
                                                  ("http://testserver", False)])
async def test_a_share_unlock_cookie_is_secure_over_https(
    app: Any, alice: UserClient, base_url: str, secure: bool
) -> None:
    chat_id = await alice.new_conversation("locked")
    link = (await alice.share(chat_id, password="open sesame 1"))["share_id"]
    async with browser(app, base_url) as http:
        r = await http.post(f"/api/v1/chats/share/{link}/verify",
                            json={"password": "open sesame 1"})
        assert r.status_code == 200, r.text
        assert ("secure" in unlock_cookie(r.headers.get_list("set-cookie"))) is secure
    async with browser(app, base_url) as http:
        r = await http.post(f"/s/{link}/unlock", data={"password": "open sesame 1"},
                            headers={"Accept": "text/html"})
        assert r.status_code == 303, r.text
        assert ("secure" in unlock_cookie(r.headers.get_list("set-cookie"))) is secure
