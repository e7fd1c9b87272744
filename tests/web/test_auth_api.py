"""Accounts API: sign-up, sign-in, sessions, CSRF, API tokens, admin changes (both databases)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import UserClient

SIGNUP = "/api/v1/auths/signup"
SIGNIN = "/api/v1/auths/signin"


async def test_open_webui_signup_with_avatar_field(client: httpx.AsyncClient) -> None:
    r = await client.post(SIGNUP, json={"name": "Ann", "email": "ann@example.com",
                                        "password": "long enough pw",
                                        "profile_image_url": "/user.png"})
    assert r.status_code == 200


async def test_first_user_is_admin_and_next_is_user(make_user: Any) -> None:
    first = await make_user()
    second = await make_user()
    assert first.role == "admin"
    assert second.role == "user"


async def test_signup_response_shape_and_cookie(client: httpx.AsyncClient) -> None:
    r = await client.post(SIGNUP, json={"name": "Ann", "email": "Ann@Example.com",
                                        "password": "long enough pw"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["email"] == "ann@example.com"
    assert set(body) >= {"token", "id", "email", "name", "role"}
    assert "password" not in str(body).lower().replace("password_", "")
    cookie = r.headers["set-cookie"].lower()
    assert "salon_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "A", "email": "not-an-email", "password": "long enough pw"}, "email"),
        ({"name": "A", "email": "a@example.com", "password": "short"}, "password"),
        ({"name": "   ", "email": "a@example.com", "password": "long enough pw"}, "name"),
    ],
)
async def test_signup_rejects_bad_fields(
    client: httpx.AsyncClient, payload: dict[str, str], field: str
) -> None:
    r = await client.post(SIGNUP, json=payload)
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_ERROR"
    assert r.json()["field"] == field


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "a@example.com", "password": "long enough pw"},
        {"name": 1, "email": "a@example.com", "password": "long enough pw"},
        {"name": "A", "email": "a@example.com", "password": "long enough pw", "role": "admin"},
    ],
)
async def test_signup_malformed_body_is_422_with_fields(
    client: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    r = await client.post(SIGNUP, json=payload)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["errors"] and all("field" in e and "message" in e for e in body["errors"])


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(SIGNUP, content=b"{not json",
                          headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_ERROR"


async def test_duplicate_email_is_409(client: httpx.AsyncClient, alice: UserClient) -> None:
    r = await client.post(SIGNUP, json={"name": "X", "email": "ALICE@example.com",
                                        "password": "long enough pw"})
    assert r.status_code == 409
    assert r.json()["code"] == "EMAIL_TAKEN"


@pytest.mark.parametrize("settings_overrides", [{"enable_signup": False}])
async def test_signup_disabled_after_first_user(client: httpx.AsyncClient) -> None:
    first = await client.post(SIGNUP, json={"name": "Admin", "email": "admin@example.com",
                                            "password": "long enough pw"})
    assert first.status_code == 200 and first.json()["role"] == "admin"
    r = await client.post(SIGNUP, json={"name": "X", "email": "x@example.com",
                                        "password": "long enough pw"})
    assert r.status_code == 403
    assert r.json()["code"] == "SIGNUP_DISABLED"


async def test_signin_returns_token_and_sets_cookie(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    r = await client.post(SIGNIN, json={"email": alice.email, "password": alice.password})
    assert r.status_code == 200
    token = r.json()["token"]
    assert "salon_session=" in r.headers["set-cookie"]
    me = await client.get("/api/v1/auths/", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == alice.email


async def test_signin_wrong_password_and_unknown_email(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    wrong = await client.post(SIGNIN, json={"email": alice.email, "password": "nope nope nope"})
    unknown = await client.post(SIGNIN, json={"email": "who@example.com", "password": "x" * 10})
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.json() == {"detail": "The email or password is incorrect.",
                            "code": "INVALID_CREDENTIALS"}


async def test_signin_is_rate_limited(client: httpx.AsyncClient, alice: UserClient) -> None:
    for _ in range(10):
        r = await client.post(SIGNIN, json={"email": alice.email, "password": "wrong password"})
        assert r.status_code == 401
    r = await client.post(SIGNIN, json={"email": alice.email, "password": alice.password})
    assert r.status_code == 429
    assert r.json()["code"] == "RATE_LIMITED"
    assert int(r.headers["retry-after"]) > 0


async def test_no_or_bad_credentials_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/auths/")
    assert r.status_code == 401 and r.json()["code"] == "NOT_AUTHENTICATED"
    r = await client.get("/api/v1/auths/", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["code"] == "INVALID_TOKEN"
    r = await client.get("/api/chat/sessions", headers={"Authorization": "Bearer salon_nope"})
    assert r.status_code == 401


async def test_cookie_session_reads_and_csrf_protected_writes(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    r = await client.post(SIGNIN, json={"email": alice.email, "password": alice.password})
    assert r.status_code == 200
    me = await client.get("/api/v1/auths/")
    assert me.status_code == 200
    csrf = me.json()["csrf_token"]
    no_csrf = await client.post("/api/v1/auths/api_keys", json={"name": "cli"})
    assert no_csrf.status_code == 403 and no_csrf.json()["code"] == "CSRF_FAILED"
    cross_site = await client.post("/api/v1/auths/api_keys", json={"name": "cli"},
                                   headers={"X-CSRF-Token": csrf,
                                            "Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    ok = await client.post("/api/v1/auths/api_keys", json={"name": "cli"},
                           headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


async def test_signout_ends_the_session(client: httpx.AsyncClient, alice: UserClient) -> None:
    r = await client.post(SIGNIN, json={"email": alice.email, "password": alice.password})
    token = r.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/v1/auths/signout", headers=auth)).status_code == 200
    assert (await client.get("/api/v1/auths/", headers=auth)).status_code == 401


async def test_api_token_lifecycle(client: httpx.AsyncClient, alice: UserClient) -> None:
    created = await alice.http.post("/api/v1/auths/api_keys", json={"name": "laptop"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("salon_")
    listed = (await alice.http.get("/api/v1/auths/api_keys")).json()
    assert [t["name"] for t in listed] == ["laptop"]
    assert "token" not in listed[0] and "token_hash" not in listed[0]
    auth = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/api/chat/sessions", headers=auth)).status_code == 200
    token_id = created.json()["id"]
    assert (await alice.http.delete(f"/api/v1/auths/api_keys/{token_id}")).status_code == 200
    assert (await client.get("/api/chat/sessions", headers=auth)).status_code == 401


async def test_api_token_cannot_be_revoked_by_another_user(
    alice: UserClient, bob: UserClient
) -> None:
    created = (await alice.http.post("/api/v1/auths/api_keys", json={"name": "k"})).json()
    r = await bob.http.delete(f"/api/v1/auths/api_keys/{created['id']}")
    assert r.status_code == 404 and r.json()["code"] == "TOKEN_NOT_FOUND"
    assert len((await alice.http.get("/api/v1/auths/api_keys")).json()) == 1


async def test_api_token_name_validated(alice: UserClient) -> None:
    r = await alice.http.post("/api/v1/auths/api_keys", json={"name": "  "})
    assert r.status_code == 422
    r = await alice.http.post("/api/v1/auths/api_keys", json={})
    assert r.status_code == 422


async def test_admin_sets_role_and_permissions(alice: UserClient, bob: UserClient) -> None:
    assert alice.role == "admin"
    r = await alice.http.post(f"/api/v1/users/{bob.id}/update",
                              json={"permissions": {"sharing_public_chat": False}})
    assert r.status_code == 200
    assert r.json()["permissions"] == {"chat_share": True, "sharing_public_chat": False,
                                       "chat_clone": True}
    me = (await bob.http.get("/api/v1/auths/")).json()
    assert me["permissions"]["sharing_public_chat"] is False
    r = await alice.http.post(f"/api/v1/users/{bob.id}/update", json={"role": "admin"})
    assert r.json()["role"] == "admin"


async def test_admin_routes_refuse_users_and_bad_input(alice: UserClient, bob: UserClient) -> None:
    r = await bob.http.get("/api/v1/users/")
    assert r.status_code == 403 and r.json()["code"] == "ADMIN_REQUIRED"
    r = await bob.http.post(f"/api/v1/users/{bob.id}/update", json={"role": "admin"})
    assert r.status_code == 403
    r = await alice.http.post(f"/api/v1/users/{bob.id}/update", json={"role": "owner"})
    assert r.status_code == 422
    r = await alice.http.post(f"/api/v1/users/{bob.id}/update",
                              json={"permissions": {"fly": True}})
    assert r.status_code == 422
    r = await alice.http.post("/api/v1/users/nobody/update", json={"role": "user"})
    assert r.status_code == 404
    r = await alice.http.post(f"/api/v1/users/{alice.id}/update", json={"role": "user"})
    assert r.status_code == 422


@pytest.mark.parametrize("settings_overrides", [{"user_permissions_chat_share": False}])
async def test_instance_permission_defaults_apply(alice: UserClient) -> None:
    me = (await alice.http.get("/api/v1/auths/")).json()
    assert me["permissions"]["chat_share"] is False


async def test_body_over_limit_is_413(client: httpx.AsyncClient, settings: Any) -> None:
    big = b"x" * (settings.max_body_bytes + 1)
    r = await client.post(SIGNUP, content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


async def test_signups_per_client_are_limited(client: httpx.AsyncClient) -> None:
    for i in range(20):
        r = await client.post(SIGNUP, json={"name": "N", "email": f"n{i}@example.com",
                                            "password": "short"})
        assert r.status_code == 422
    r = await client.post(SIGNUP, json={"name": "N", "email": "late@example.com",
                                        "password": "long enough pw"})
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"


@pytest.mark.parametrize("settings_overrides", [{"enable_signup": False}])
async def test_admin_adds_users_even_with_signup_off(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    r = await alice.http.post("/api/v1/auths/add", json={
        "name": "Carol", "email": "carol@example.com", "password": "long enough pw",
        "role": "user"})
    assert r.status_code == 200 and r.json()["role"] == "user"
    signin = await client.post(SIGNIN, json={"email": "carol@example.com",
                                             "password": "long enough pw"})
    assert signin.status_code == 200


async def test_only_admins_add_users_and_input_is_checked(
    alice: UserClient, bob: UserClient
) -> None:
    body = {"name": "C", "email": "c@example.com", "password": "long enough pw"}
    r = await bob.http.post("/api/v1/auths/add", json=body)
    assert r.status_code == 403 and r.json()["code"] == "ADMIN_REQUIRED"
    r = await alice.http.post("/api/v1/auths/add", json={**body, "role": "root"})
    assert r.status_code == 422
    r = await alice.http.post("/api/v1/auths/add", json={**body, "email": bob.email})
    assert r.status_code == 409


async def test_change_password_ends_other_sessions(
    client: httpx.AsyncClient, alice: UserClient
) -> None:
    other = (await client.post(SIGNIN, json={"email": alice.email,
                                             "password": alice.password})).json()["token"]
    key = (await alice.http.post("/api/v1/auths/api_keys", json={"name": "k"})).json()["token"]
    r = await alice.http.post("/api/v1/auths/update/password",
                              json={"password": "wrong one!", "new_password": "brand new pw"})
    assert r.status_code == 422 and r.json()["code"] == "INCORRECT_PASSWORD"
    r = await alice.http.post("/api/v1/auths/update/password",
                              json={"password": alice.password, "new_password": "short"})
    assert r.status_code == 422
    r = await alice.http.post("/api/v1/auths/update/password",
                              json={"password": alice.password, "new_password": "brand new pw"})
    assert r.status_code == 200
    assert (await alice.http.get("/api/v1/auths/")).status_code == 200  # this session stays
    other_auth = {"Authorization": f"Bearer {other}"}
    assert (await client.get("/api/v1/auths/", headers=other_auth)).status_code == 401
    key_auth = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/auths/", headers=key_auth)).status_code == 200
    old = await client.post(SIGNIN, json={"email": alice.email, "password": alice.password})
    new = await client.post(SIGNIN, json={"email": alice.email, "password": "brand new pw"})
    assert old.status_code == 401 and new.status_code == 200


async def test_update_profile_name(alice: UserClient) -> None:
    r = await alice.http.post("/api/v1/auths/update/profile", json={"name": "  Alice  B "})
    assert r.status_code == 200 and r.json()["name"] == "Alice B"
    r = await alice.http.post("/api/v1/auths/update/profile", json={"name": " "})
    assert r.status_code == 422


async def test_admin_deletes_a_user_with_their_data(
    alice: UserClient, bob: UserClient, settings: Any
) -> None:
    png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
           "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    await bob.chat("mine", images=[png])
    assert [p for p in settings.blob_dir.rglob("*") if p.is_file()]
    assert (await bob.http.delete(f"/api/v1/users/{alice.id}")).status_code == 403
    assert (await alice.http.delete(f"/api/v1/users/{alice.id}")).status_code == 422
    assert (await alice.http.delete(f"/api/v1/users/{bob.id}")).json() is True
    assert (await bob.http.get("/api/chat/sessions")).status_code == 401
    assert not [p for p in settings.blob_dir.rglob("*") if p.is_file()]
    assert (await alice.http.delete(f"/api/v1/users/{bob.id}")).status_code == 404
    users = (await alice.http.get("/api/v1/users/")).json()
    assert [u["email"] for u in users] == [alice.email]


async def test_wrong_current_passwords_are_rate_limited(alice: UserClient) -> None:
    body = {"password": "not my password", "new_password": "brand new pw"}
    for _ in range(10):
        r = await alice.http.post("/api/v1/auths/update/password", json=body)
        assert r.status_code == 422
    r = await alice.http.post("/api/v1/auths/update/password",
                              json={"password": alice.password, "new_password": "brand new pw"})
    assert r.status_code == 429 and r.json()["code"] == "RATE_LIMITED"
