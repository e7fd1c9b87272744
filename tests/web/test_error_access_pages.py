"""Error and access pages through the app: share refusals in words, the login page's reason
sentence (known keys only), and the settings flash that a successful post hands to the page
it redirects to (one session's, untampered, shown once)."""

from __future__ import annotations

import httpx

from salon.web.pages.flash import FLASH_COOKIE
from tests.factories import UserClient
from tests.web.test_pages import HTML, log_in


def flash_value(client: httpx.AsyncClient) -> str:
    value = next(c.value for c in client.cookies.jar if c.name == FLASH_COOKIE)
    assert value is not None
    return value


def plant_flash(client: httpx.AsyncClient, value: str) -> None:
    """Set the flash cookie as the server would have (same domain and path)."""
    client.cookies.set(FLASH_COOKIE, value, domain="testserver.local", path="/settings")
    assert flash_value(client) == value


async def new_token_flash(client: httpx.AsyncClient, user: UserClient) -> str:
    csrf = await log_in(client, user)
    r = await client.post("/settings/tokens", data={"name": "laptop", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/settings"
    return flash_value(client)


async def test_a_flash_is_shown_once_to_its_own_session(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient, app: object
) -> None:
    value = await new_token_flash(client, alice)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await log_in(other, bob)
        plant_flash(other, value)  # another session's flash: void here
        assert 'id="new-token"' not in (await other.get("/settings", headers=HTML)).text
    shown = await client.get("/settings", headers=HTML)
    assert 'id="new-token"' in shown.text
    assert f"{FLASH_COOKIE}=" in shown.headers["set-cookie"]  # deleted once shown
    assert 'id="new-token"' not in (await client.get("/settings", headers=HTML)).text


async def test_a_tampered_flash_is_ignored(client: httpx.AsyncClient, alice: UserClient) -> None:
    value = await new_token_flash(client, alice)
    body, rest = value.split(".", 1)
    plant_flash(client, ("A" if body[0] != "A" else "B") + body[1:] + "." + rest)
    assert 'id="new-token"' not in (await client.get("/settings", headers=HTML)).text
    plant_flash(client, value)  # the same cookie, untouched: shown
    assert 'id="new-token"' in (await client.get("/settings", headers=HTML)).text


async def test_the_login_page_says_only_known_reasons(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    page = await client.get("/login?next=%2Fs%2Fabc&reason=share", headers=HTML)
    assert "Sign in to view this shared chat." in page.text
    assert 'name="reason" value="share"' in page.text
    page = await client.get("/login?reason=Your+account+is+locked", headers=HTML)
    assert "locked" not in page.text and "login-reason" not in page.text
    r = await client.post("/login", data={"email": alice.email, "password": "wrong password",
                                          "next": "/s/abc", "reason": "share"})
    assert r.status_code == 401 and "Sign in to view this shared chat." in r.text


async def test_share_refusals_have_a_heading_in_words(client: httpx.AsyncClient) -> None:
    r = await client.get("/s/no-such-link", headers=HTML)
    assert r.status_code == 404
    assert "<h1 id=\"error-title\">This shared chat does not exist</h1>" in r.text
    assert "doesn&#39;t exist" in r.text and 'href="/login">Sign in</a>' in r.text
