"""Signing out: a browser session (the cookie) ends only by a POST carrying its CSRF token.
A GET, which any site can make a browser send (a link, an image, a redirect), ends nothing:
browsers get the ``/logout`` page that asks, scripts a 405. Programs holding a session token
as ``Authorization: Bearer`` may still sign out with GET (Open WebUI's clients do)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.factories import UserClient
from tests.web.test_pages import log_in

HTML = {"accept": "text/html"}
CROSS_SITE = {**HTML, "sec-fetch-site": "cross-site"}
SIGNOUT = "/api/v1/auths/signout"


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    return (await client.get("/api/v1/auths/")).status_code == 200


async def test_the_logout_page_asks_with_a_post_form(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    csrf = await log_in(client, alice)
    r = await client.get("/logout", headers=CROSS_SITE)
    assert r.status_code == 200 and "Log out?" in r.text and alice.email in r.text
    form = re.search(r'<form method="post" action="/logout"[^>]*>(.*?)</form>', r.text, re.S)
    assert form and f'name="csrf_token" value="{csrf}"' in form.group(1)
    assert "set-cookie" not in r.headers and await is_signed_in(client)


async def test_the_logout_page_sends_anonymous_visitors_to_log_in(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/logout", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/login"


@pytest.mark.parametrize("headers", [HTML, CROSS_SITE], ids=["same-site", "cross-site"])
async def test_a_browser_following_the_api_sign_out_link_is_asked(
    client: httpx.AsyncClient, alice: UserClient, headers: dict[str, str]
) -> None:
    await log_in(client, alice)
    r = await client.get(SIGNOUT, headers=headers)
    assert r.status_code == 303 and r.headers["location"] == "/logout"
    assert "set-cookie" not in r.headers and await is_signed_in(client)


async def test_a_script_cannot_sign_a_cookie_session_out_with_get(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    await log_in(client, alice)
    r = await client.get(SIGNOUT)
    assert (r.status_code, r.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert r.headers["allow"] == "POST" and await is_signed_in(client)


async def test_api_sign_out_of_a_cookie_session_needs_the_csrf_token(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    csrf = await log_in(client, alice)
    for token in ("", "wrong"):
        r = await client.post(SIGNOUT, headers={"x-csrf-token": token})
        assert (r.status_code, r.json()["code"]) == (403, "CSRF_FAILED")
        assert await is_signed_in(client)
    r = await client.post(SIGNOUT, headers={"x-csrf-token": csrf})
    assert r.status_code == 200 and not await is_signed_in(client)


async def test_the_logout_form_needs_the_csrf_token(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    csrf = await log_in(client, alice)
    for data in ({}, {"csrf_token": "wrong"}):
        r = await client.post("/logout", data=data, headers=HTML)
        assert r.status_code == 403 and await is_signed_in(client)
    r = await client.post("/logout", data={"csrf_token": csrf}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not await is_signed_in(client)


async def test_a_program_signs_its_session_token_out_with_get(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    token = (await client.post("/api/v1/auths/signin", json={
        "email": alice.email, "password": alice.password})).json()["token"]
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get(SIGNOUT, headers=bearer)).status_code == 200
    assert (await client.get("/api/v1/auths/", headers=bearer)).status_code == 401
