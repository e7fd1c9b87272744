"""HTML pages through the ASGI app: sign-in flows, the chat page, settings, admin, CSRF."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import UserClient

HTML = {"Accept": "text/html"}
HOSTILE_TITLE = "</title><script>alert(1)</script>"


async def log_in(client: httpx.AsyncClient, user: UserClient) -> str:
    """Sign ``client`` in with the login form; returns the session's CSRF token."""
    r = await client.post("/login", data={"email": user.email, "password": user.password})
    assert r.status_code == 303, r.text
    return csrf_of((await client.get("/", headers=HTML)).text)


def csrf_of(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


# -- anonymous visitors -----------------------------------------------------------------------

async def test_first_visit_on_a_fresh_server_goes_to_signup(client: httpx.AsyncClient) -> None:
    r = await client.get("/", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == "/signup"
    r = await client.get("/login", headers=HTML)
    assert r.headers["location"] == "/signup"
    page = await client.get("/signup", headers=HTML)
    assert "Welcome to Salon" in page.text and "administrator" in page.text


@pytest.mark.parametrize(("path", "location"), [
    ("/", "/login"),
    ("/c/some-id", "/login?next=%2Fc%2Fsome-id"),
    ("/settings", "/login?next=%2Fsettings"),
    ("/admin/users", "/login?next=%2Fadmin%2Fusers"),
])
async def test_anonymous_pages_redirect_to_login(
    client: httpx.AsyncClient, alice: UserClient, path: str, location: str
) -> None:
    r = await client.get(path, headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == location


async def test_anonymous_fragment_is_refused(client: httpx.AsyncClient, alice: UserClient) -> None:
    r = await client.get("/fragments/sidebar")
    assert r.status_code == 401
    assert r.json()["code"] == "NOT_AUTHENTICATED"


async def test_unknown_page_is_the_friendly_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/such/page", headers=HTML)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Page not found" in r.text


# -- log in -----------------------------------------------------------------------------------

async def test_login_success_sets_the_session_and_follows_next(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    page = await client.get("/login?next=/settings", headers=HTML)
    assert 'name="next" value="/settings"' in page.text
    r = await client.post("/login", data={"email": "ALICE@example.com", "password": alice.password,
                                          "next": "/settings"})
    assert r.status_code == 303
    assert r.headers["location"] == "/settings"
    cookie = r.headers["set-cookie"]
    assert "salon_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    settings = await client.get("/settings", headers=HTML)
    assert settings.status_code == 200
    assert "Alice" in settings.text
    again = await client.get("/login?next=/c/x", headers=HTML)
    assert again.status_code == 303 and again.headers["location"] == "/c/x"


async def test_login_failure_is_shown_on_the_form(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    r = await client.post("/login", data={"email": alice.email, "password": "wrong password",
                                          "next": "/c/abc"})
    assert r.status_code == 401
    assert "The email or password is incorrect." in r.text
    assert f'value="{alice.email}"' in r.text
    assert "wrong password" not in r.text
    assert 'name="next" value="/c/abc"' in r.text
    assert "salon_session" not in r.headers.get("set-cookie", "")


async def test_login_is_rate_limited(client: httpx.AsyncClient, alice: UserClient) -> None:
    for _ in range(10):
        await client.post("/login", data={"email": alice.email, "password": "nope nope"})
    r = await client.post("/login", data={"email": alice.email, "password": alice.password})
    assert r.status_code == 429
    assert "Too many failed sign-in attempts" in r.text


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "http:/evil.example", "https:evil.example", "/\t/evil.example",
    " /x", "evil", "",
])
async def test_next_is_never_an_open_redirect(
    client: httpx.AsyncClient, alice: UserClient, target: str
) -> None:
    r = await client.post("/login", data={"email": alice.email, "password": alice.password,
                                          "next": target})
    assert r.status_code == 303
    assert r.headers["location"] == "/"


@pytest.mark.parametrize("target", ["/c/123", "/settings?tab=tokens", "/a/b#frag"])
async def test_next_keeps_local_paths(
    client: httpx.AsyncClient, alice: UserClient, target: str
) -> None:
    r = await client.post("/login", data={"email": alice.email, "password": alice.password,
                                          "next": target})
    assert r.headers["location"] == target


async def test_login_from_another_site_is_refused(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    r = await client.post("/login", data={"email": alice.email, "password": alice.password},
                          headers={**HTML, "Origin": "https://evil.example"})
    assert r.status_code == 403


# -- sign up ----------------------------------------------------------------------------------

async def test_signup_creates_an_admin_first_and_signs_in(client: httpx.AsyncClient) -> None:
    r = await client.post("/signup", data={"name": "Root", "email": "root@example.com",
                                           "password": "long enough pw", "next": "/settings"})
    assert r.status_code == 303
    assert r.headers["location"] == "/settings"
    page = await client.get("/settings", headers=HTML)
    assert "administrator" in page.text
    admin = await client.get("/admin/users", headers=HTML)
    assert admin.status_code == 200


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"password": "short"}, 422, "at least 8 characters"),
    ({"email": "not-an-email"}, 422, "valid email"),
    ({"name": "   "}, 422, "Enter your name"),
    ({"email": "alice@example.com"}, 409, "already exists"),
])
async def test_signup_errors_are_shown_on_the_form(
    client: httpx.AsyncClient, alice: UserClient, fields: dict[str, str], status: int,
    message: str,
) -> None:
    data = {"name": "Carol <b>", "email": "carol@example.com", "password": "long enough pw",
            **fields}
    r = await client.post("/signup", data=data)
    assert r.status_code == status
    assert message in r.text
    assert "long enough pw" not in r.text
    assert "Carol <b>" not in r.text


@pytest.mark.parametrize("settings_overrides", [{"enable_signup": False}])
async def test_signup_disabled_hides_the_form(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    page = await client.get("/signup", headers=HTML)
    assert page.status_code == 200
    assert "Sign-up is disabled" in page.text
    assert 'action="/signup"' not in page.text
    login = await client.get("/login", headers=HTML)
    assert 'href="/signup"' not in login.text
    r = await client.post("/signup", data={"name": "Eve", "email": "eve@example.com",
                                           "password": "long enough pw"})
    assert r.status_code == 403
    assert "Sign-up is disabled" in r.text


# -- log out and CSRF -------------------------------------------------------------------------

async def test_logout_needs_the_csrf_token(client: httpx.AsyncClient, alice: UserClient) -> None:
    csrf = await log_in(client, alice)
    for token in ("", "wrong"):
        r = await client.post("/logout", data={"csrf_token": token}, headers=HTML)
        assert r.status_code == 403
        assert "CSRF" in r.text
    assert (await client.get("/", headers=HTML)).status_code == 200
    r = await client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert (await client.get("/", headers=HTML)).status_code == 303


async def test_old_session_is_dead_after_logout(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    csrf = await log_in(client, alice)
    cookie = client.cookies["salon_session"]
    await client.post("/logout", data={"csrf_token": csrf})
    assert "salon_session" not in client.cookies
    client.cookies.set("salon_session", cookie)
    r = await client.get("/", headers=HTML)
    assert r.status_code == 303


@pytest.mark.parametrize(("path", "data"), [
    ("/settings/tokens", {"name": "t"}),
    ("/settings/tokens/some-id/revoke", {}),
    ("/admin/users/some-id", {"role": "user"}),
])
async def test_cookie_form_posts_need_the_csrf_token(
    client: httpx.AsyncClient, alice: UserClient, path: str, data: dict[str, str]
) -> None:
    await log_in(client, alice)
    r = await client.post(path, data=data, headers=HTML)
    assert r.status_code == 403
    r = await client.post(path, data={**data, "csrf_token": "forged"}, headers=HTML)
    assert r.status_code == 403


async def test_anonymous_form_post_is_refused(client: httpx.AsyncClient, alice: UserClient) -> None:
    r = await client.post("/settings/tokens", data={"name": "t", "csrf_token": "x"})
    assert r.status_code == 401


# -- the chat page ----------------------------------------------------------------------------

async def test_chat_page_lists_conversations_newest_first(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    older = await alice.new_conversation("first question")
    newer = await alice.new_conversation("second question")
    await log_in(client, alice)
    page = (await client.get("/", headers=HTML)).text
    assert page.index(f'href="/c/{newer}"') < page.index(f'href="/c/{older}"')
    assert 'id="composer"' in page
    assert "How can I help" in page


async def test_conversation_page_renders_messages(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    conv = await alice.new_conversation("Say **bold** and `code`")
    await log_in(client, alice)
    r = await client.get(f"/c/{conv}", headers=HTML)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert '<article class="message message-user"' in r.text
    assert '<article class="message message-assistant"' in r.text
    assert "<strong>bold</strong>" in r.text and "<code>code</code>" in r.text
    assert f'data-conversation-id="{conv}"' in r.text
    assert f'<a href="/c/{conv}" data-id="{conv}" aria-current="page">' in r.text


async def test_titles_are_escaped_everywhere(client: httpx.AsyncClient, alice: UserClient) -> None:
    conv = await alice.new_conversation("hello")
    r = await alice.http.patch("/api/chat/title",
                               json={"conversation_id": conv, "title": HOSTILE_TITLE})
    assert r.status_code == 200
    await log_in(client, alice)
    for path in (f"/c/{conv}", "/", f"/fragments/sidebar?current={conv}"):
        html = (await client.get(path, headers=HTML)).text
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    page = (await client.get(f"/c/{conv}", headers=HTML)).text
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; · Salon</title>" in page


async def test_hostile_message_text_is_inert(client: httpx.AsyncClient, alice: UserClient) -> None:
    conv = await alice.new_conversation('<img src=x onerror="alert(1)"> [x](javascript:alert(2))')
    await log_in(client, alice)
    html = (await client.get(f"/c/{conv}/messages", headers=HTML)).text
    assert "<img" not in html
    assert "&lt;img src=x onerror=" in html
    assert "javascript:" not in html.replace("[x](javascript:alert(2))", "")


async def test_another_users_conversation_is_a_404_page(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    conv = await alice.new_conversation("alice private thoughts")
    await log_in(client, bob)
    for path in (f"/c/{conv}", f"/c/{conv}/messages", "/c/unknown-id"):
        r = await client.get(path, headers=HTML)
        assert r.status_code == 404, path
        assert "Page not found" in r.text
        assert "alice private thoughts" not in r.text
    sidebar = (await client.get("/fragments/sidebar", headers=HTML)).text
    assert "No conversations yet" in sidebar


async def test_messages_fragment_has_just_the_messages(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    conv = await alice.new_conversation("one", "two")
    await log_in(client, alice)
    r = await client.get(f"/c/{conv}/messages", headers=HTML)
    assert r.status_code == 200
    assert "<html" not in r.text
    assert r.text.count("<article") == 4
    assert r.text.index("Echo: one") < r.text.index("Echo: two")


async def test_pages_use_the_csp_nonce_and_no_inline_code(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    conv = await alice.new_conversation("hi")
    await log_in(client, alice)
    for path in ("/", f"/c/{conv}", "/settings", "/admin/users", "/no-such-page"):
        r = await client.get(path, headers=HTML)
        nonce = re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"])
        assert nonce, path
        scripts = re.findall(r"<script([^>]*)>", r.text)
        assert scripts, path
        for attrs in scripts:
            assert f'nonce="{nonce.group(1)}"' in attrs and 'src="/static/' in attrs, path
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", r.text), path


# -- settings ---------------------------------------------------------------------------------

async def test_token_created_shown_once_and_revoked(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    csrf = await log_in(client, alice)
    r = await client.post("/settings/tokens", data={"name": "laptop", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/settings"  # a reload: no post
    shown = await client.get("/settings", headers=HTML)
    secret = re.search(r'id="new-token" class="mono" readonly value="(salon_[^"]+)"', shown.text)
    assert secret
    token = secret.group(1)
    me = await client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    page = (await client.get("/settings", headers=HTML)).text
    assert token not in page and "laptop" in page
    token_id = re.search(r'action="/settings/tokens/([^/]+)/revoke"', page)
    assert token_id
    r = await client.post(f"/settings/tokens/{token_id.group(1)}/revoke",
                          data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/settings?revoked=1"
    assert "was revoked" in (await client.get(r.headers["location"], headers=HTML)).text
    gone = await client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401


async def test_token_errors_are_inline(client: httpx.AsyncClient, alice: UserClient) -> None:
    csrf = await log_in(client, alice)
    r = await client.post("/settings/tokens", data={"name": "   ", "csrf_token": csrf})
    assert r.status_code == 422
    assert "1 to 100 characters" in r.text


async def test_revoking_someone_elses_token_is_404(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    created = await bob.http.post("/api/v1/auths/api_keys", json={"name": "bob's"})
    csrf = await log_in(client, alice)
    r = await client.post(f"/settings/tokens/{created.json()['id']}/revoke",
                          data={"csrf_token": csrf}, headers=HTML)
    assert r.status_code == 404
    assert len((await bob.http.get("/api/v1/auths/api_keys")).json()) == 1


# -- admin ------------------------------------------------------------------------------------

async def test_admin_page_is_403_for_non_admins(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    csrf = await log_in(client, bob)
    r = await client.get("/admin/users", headers=HTML)
    assert r.status_code == 403
    assert "Not allowed" in r.text
    assert 'href="/admin/users"' not in r.text
    r = await client.post(f"/admin/users/{bob.id}", data={"role": "admin", "csrf_token": csrf},
                          headers=HTML)
    assert r.status_code == 403
    me = await bob.http.get("/api/v1/auths/")
    assert me.json()["role"] == "user"


async def test_admin_changes_role_and_permissions(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    csrf = await log_in(client, alice)
    page = await client.get("/admin/users", headers=HTML)
    assert page.status_code == 200
    assert "bob@example.com" in page.text and "alice@example.com" in page.text
    r = await client.post(f"/admin/users/{bob.id}", data={
        "csrf_token": csrf, "role": "admin", "perm_chat_share": "deny",
        "perm_sharing_public_chat": "allow", "perm_chat_clone": "default"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/admin/users?saved={bob.id}"
    me: dict[str, Any] = (await bob.http.get("/api/v1/auths/")).json()
    assert me["role"] == "admin"
    assert me["permissions"] == {"chat_share": False, "sharing_public_chat": True,
                                 "chat_clone": True}
    saved = await client.get(r.headers["location"], headers=HTML)
    assert "Saved." in saved.text


async def test_admin_form_errors_are_inline(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    csrf = await log_in(client, alice)
    r = await client.post(f"/admin/users/{bob.id}",
                          data={"csrf_token": csrf, "perm_chat_share": "maybe"})
    assert r.status_code == 422
    assert "Choose default, allow or deny" in r.text
    r = await client.post(f"/admin/users/{alice.id}", data={"csrf_token": csrf, "role": "user"})
    assert r.status_code == 422
    assert "cannot remove your own admin role" in r.text
    r = await client.post("/admin/users/no-such-user", data={"csrf_token": csrf}, headers=HTML)
    assert r.status_code == 404


# -- settings: profile and password -----------------------------------------------------------

NEW_PASSWORD = "a brand new secret"


def anonymous(app: Any) -> httpx.AsyncClient:
    """A client of its own (no cookies), e.g. to sign in the way another device would."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def can_log_in(app: Any, email: str, password: str) -> bool:
    async with anonymous(app) as other:
        r = await other.post("/login", data={"email": email, "password": password})
    return r.status_code == 303


async def test_settings_has_profile_and_password_forms(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    await log_in(client, alice)
    page = (await client.get("/settings", headers=HTML)).text
    assert 'action="/settings/profile"' in page and 'value="Alice"' in page
    for field_id, autocomplete in [("current-password", "current-password"),
                                   ("new-password", "new-password"),
                                   ("confirm-password", "new-password")]:
        assert f'<label for="{field_id}">' in page
        assert re.search(rf'id="{field_id}"[^>]*autocomplete="{autocomplete}"', page), field_id


async def test_change_name(client: httpx.AsyncClient, alice: UserClient) -> None:
    csrf = await log_in(client, alice)
    r = await client.post("/settings/profile", data={"name": "  Alice   Liddell ",
                                                     "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/settings?saved=profile"
    page = (await client.get(r.headers["location"], headers=HTML)).text
    assert "Your name was saved." in page
    assert 'value="Alice Liddell"' in page
    assert (await alice.http.get("/api/v1/auths/")).json()["name"] == "Alice Liddell"


async def test_name_errors_are_inline(client: httpx.AsyncClient, alice: UserClient) -> None:
    csrf = await log_in(client, alice)
    r = await client.post("/settings/profile", data={"name": "   ", "csrf_token": csrf})
    assert r.status_code == 422
    assert "Enter your name." in r.text
    assert r.text.index("Enter your name.") < r.text.index('action="/settings/profile"')
    assert (await alice.http.get("/api/v1/auths/")).json()["name"] == "Alice"


async def test_change_password(app: Any, client: httpx.AsyncClient, alice: UserClient) -> None:
    """The new password signs in, the old one no longer does; this browser stays signed in
    and every other session (alice.http's bearer session) ends."""
    csrf = await log_in(client, alice)
    r = await client.post("/settings/password", data={
        "current_password": alice.password, "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD, "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/settings?saved=password"
    page = await client.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200
    assert "Password changed. Other devices were signed out." in page.text
    assert NEW_PASSWORD not in page.text
    assert (await alice.http.get("/api/v1/auths/")).status_code == 401
    assert not await can_log_in(app, alice.email, alice.password)
    assert await can_log_in(app, alice.email, NEW_PASSWORD)
    r = await client.post("/settings/profile", data={"name": "Still Alice", "csrf_token": csrf})
    assert r.status_code == 303


@pytest.mark.parametrize(("fields", "message", "invalid_id"), [
    ({"current_password": "not my password"}, "The current password is incorrect.",
     "current-password"),
    ({"confirm_password": "a brand new secreT"}, "The new passwords do not match.",
     "confirm-password"),
    ({"new_password": "short", "confirm_password": "short"}, "at least 8 characters",
     "new-password"),
    ({"new_password": "x" * 300, "confirm_password": "x" * 300}, "at most 256 characters",
     "new-password"),
])
async def test_password_errors_are_inline_and_change_nothing(
    app: Any, client: httpx.AsyncClient, alice: UserClient, fields: dict[str, str],
    message: str, invalid_id: str,
) -> None:
    csrf = await log_in(client, alice)
    data = {"current_password": alice.password, "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD, "csrf_token": csrf, **fields}
    r = await client.post("/settings/password", data=data, headers=HTML)
    assert r.status_code == 422
    assert message in r.text
    assert r.text.index(message) < r.text.index('action="/settings/password"')
    assert re.search(rf'id="{invalid_id}"[^>]*aria-invalid="true"', r.text)
    for value in (data["current_password"], data["new_password"]):
        assert value not in r.text
    assert (await alice.http.get("/api/v1/auths/")).status_code == 200
    assert await can_log_in(app, alice.email, alice.password)
    assert not await can_log_in(app, alice.email, NEW_PASSWORD)


@pytest.mark.parametrize(("path", "data"), [
    ("/settings/profile", {"name": "Mallory"}),
    ("/settings/password", {"current_password": "correct horse battery",
                            "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
    ("/admin/users", {"name": "Mallory", "email": "m@example.com", "password": NEW_PASSWORD}),
    ("/admin/users/some-id/delete", {}),
])
async def test_account_form_posts_need_the_csrf_token(
    app: Any, client: httpx.AsyncClient, alice: UserClient, path: str, data: dict[str, str]
) -> None:
    await log_in(client, alice)
    for extra in ({}, {"csrf_token": "forged"}):
        r = await client.post(path, data={**data, **extra}, headers=HTML)
        assert r.status_code == 403
        assert "CSRF" in r.text
    assert (await alice.http.get("/api/v1/auths/")).json()["name"] == "Alice"
    assert await can_log_in(app, alice.email, alice.password)
    assert len((await alice.http.get("/api/v1/users/")).json()) == 1


@pytest.mark.parametrize("path", ["/settings/profile", "/settings/password", "/admin/users",
                                  "/admin/users/some-id/delete"])
async def test_anonymous_account_posts_are_refused(
    client: httpx.AsyncClient, alice: UserClient, path: str
) -> None:
    r = await client.post(path, data={"csrf_token": "x"})
    assert r.status_code == 401


# -- admin: add and delete users --------------------------------------------------------------

@pytest.mark.parametrize("settings_overrides", [{"enable_signup": False}])
@pytest.mark.parametrize(("role", "described"), [("user", "a user"), ("admin", "an admin")])
async def test_admin_adds_a_user_who_can_sign_in(
    app: Any, client: httpx.AsyncClient, alice: UserClient, role: str, described: str
) -> None:
    csrf = await log_in(client, alice)
    r = await client.post("/admin/users", data={
        "name": "Carol", "email": "Carol@Example.com", "password": "carol's password",
        "role": role, "csrf_token": csrf})
    assert r.status_code == 303
    location = r.headers["location"]
    added = re.fullmatch(r"/admin/users\?added=([0-9a-f-]{36})", location)
    assert added, location
    page = (await client.get(location, headers=HTML)).text
    assert f"Added Carol (carol@example.com) as {described}." in page
    assert f'class="card user-card just-saved" id="user-{added.group(1)}"' in page
    assert "carol&#39;s password" not in page and "carol's password" not in page
    assert await can_log_in(app, "carol@example.com", "carol's password")
    users = {u["email"]: u for u in (await alice.http.get("/api/v1/users/")).json()}
    assert users["carol@example.com"]["role"] == role


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"email": "bob@example.com"}, 409, "already exists"),
    ({"email": "not-an-email"}, 422, "valid email"),
    ({"name": "  "}, 422, "Enter your name"),
    ({"password": "short"}, 422, "at least 8 characters"),
    ({"role": "owner"}, 422, "Unknown role"),
])
async def test_add_user_errors_are_inline(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient, fields: dict[str, str],
    status: int, message: str,
) -> None:
    """Shown above the form, on the field in error, with what was typed (not the password)."""
    csrf = await log_in(client, alice)
    data = {"name": "Carol <b>", "email": "carol@example.com", "password": "long enough pw",
            "role": "user", "csrf_token": csrf, **fields}
    r = await client.post("/admin/users", data=data, headers=HTML)
    assert r.status_code == status
    assert message in r.text
    assert r.text.index(message) < r.text.index('action="/admin/users"')
    assert "long enough pw" not in r.text and "Carol <b>" not in r.text
    field = next(iter(fields))
    assert re.search(rf'id="new-user-{field}"[^>]*aria-invalid="true"', r.text), field
    if "name" not in fields:
        assert 'value="Carol &lt;b&gt;"' in r.text
    assert len((await alice.http.get("/api/v1/users/")).json()) == 2


async def test_non_admin_cannot_add_or_delete_users(
    app: Any, client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    csrf = await log_in(client, bob)
    r = await client.post("/admin/users", headers=HTML, data={
        "name": "Mallory", "email": "mallory@example.com", "password": "long enough pw",
        "role": "admin", "csrf_token": csrf})
    assert r.status_code == 403
    assert "Not allowed" in r.text
    assert not await can_log_in(app, "mallory@example.com", "long enough pw")
    r = await client.post(f"/admin/users/{alice.id}/delete", data={"csrf_token": csrf},
                          headers=HTML)
    assert r.status_code == 403
    assert "Not allowed" in r.text
    assert (await alice.http.get("/api/v1/auths/")).status_code == 200


async def test_admin_deletes_a_user_and_their_sessions(
    app: Any, client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    await bob.new_conversation("bob's question")
    csrf = await log_in(client, alice)
    page = (await client.get("/admin/users", headers=HTML)).text
    confirm = re.search(rf'action="/admin/users/{bob.id}/delete"[^>]*data-confirm="([^"]+)"',
                        page)
    assert confirm
    assert "Bob" in confirm.group(1) and "conversations and files" in confirm.group(1)
    assert f"/admin/users/{alice.id}/delete" not in page  # no delete button for yourself

    r = await client.post(f"/admin/users/{bob.id}/delete", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?deleted=1"
    after = (await client.get(r.headers["location"], headers=HTML)).text
    assert "The account was deleted" in after
    assert bob.email not in after
    assert (await bob.http.get("/api/v1/auths/")).status_code == 401
    assert not await can_log_in(app, bob.email, bob.password)
    r = await client.post(f"/admin/users/{bob.id}/delete", data={"csrf_token": csrf},
                          headers=HTML)
    assert r.status_code == 404
    assert "Page not found" in r.text


async def test_admin_cannot_delete_themselves(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    csrf = await log_in(client, alice)
    r = await client.post(f"/admin/users/{alice.id}/delete", data={"csrf_token": csrf},
                          headers=HTML)
    assert r.status_code == 422
    assert "You cannot delete your own account here." in r.text
    assert (await client.get("/admin/users", headers=HTML)).status_code == 200
    assert (await alice.http.get("/api/v1/auths/")).status_code == 200


async def test_admin_turns_sharing_off_and_on(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    chat_id = await bob.new_conversation("hello")
    share = await bob.share(chat_id)
    link = f"/api/v1/chats/share/{share['share_id']}"
    csrf = await log_in(client, alice)
    page = await client.get("/admin/users", headers=HTML)
    assert "Sharing is <strong>on</strong>" in page.text
    r = await client.post("/admin/sharing", data={"csrf_token": csrf, "enabled": "off"})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?sharing=false"
    off = await client.get(r.headers["location"], headers=HTML)
    assert "Sharing is <strong>off</strong>" in off.text and "Nothing was deleted" in off.text
    refused = await bob.http.get(link)
    assert refused.status_code == 403 and refused.json()["code"] == "SHARING_DISABLED"
    r = await client.post("/admin/sharing", data={"csrf_token": csrf, "enabled": "maybe"},
                          headers=HTML)
    assert r.status_code == 422
    r = await client.post("/admin/sharing", data={"csrf_token": csrf, "enabled": "on"})
    assert r.status_code == 303
    assert (await bob.http.get(link)).status_code == 200


async def test_only_admins_switch_sharing(
    client: httpx.AsyncClient, alice: UserClient, bob: UserClient
) -> None:
    csrf = await log_in(client, bob)
    r = await client.post("/admin/sharing", data={"csrf_token": csrf, "enabled": "off"},
                          headers=HTML)
    assert r.status_code == 403
    r = await client.post("/admin/sharing", data={"enabled": "off"}, headers=HTML)
    assert r.status_code == 403  # no CSRF token
    config = await alice.http.get("/api/v1/auths/admin/config")
    assert config.json()["ENABLE_SHARING"] is True
