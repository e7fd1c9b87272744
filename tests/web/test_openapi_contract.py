"""The OpenAPI document tells the truth, since clients are generated from it.

Every error is documented as Salon's ``{"detail", "code"}`` shape with the statuses an operation
can really answer; routes answering files, archives or event streams name those media types;
an unsupported method gets a 405 whose ``Allow`` lists every method of the path. Schemathesis's
conformance checks run against a real server on each database and find nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from salon.config import Settings
from tests.factories import UserClient
from tests.web.test_live_server import serve

# Schemathesis's checks that the answers match the document.
CONFORMANCE_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
    "positive_data_acceptance",
)
# Generated cases per operation and phase: bounded, so the run stays short in CI.
MAX_EXAMPLES = 10


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation)
            for path, item in document["paths"].items() for method, operation in item.items()]


async def test_every_error_is_documented_in_salons_shape(client: httpx.AsyncClient) -> None:
    document = await openapi(client)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Error"]["required"] == ["detail", "code"]
    for method, path, operation in operations(document):
        errors = {status: response for status, response in operation["responses"].items()
                  if int(status) >= 400}
        assert "422" in errors, (method, path)
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


async def test_operations_document_the_statuses_they_answer(client: httpx.AsyncClient) -> None:
    paths = (await openapi(client))["paths"]
    # signed-in routes: not signed in, not allowed, not found, the database away
    listing = paths["/api/v1/chats/"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422", "429", "503"} <= set(listing)
    assert "Retry-After" in listing["503"]["headers"]
    assert "Retry-After" in listing["429"]["headers"]
    # writes may be too large; a wrong password on sign-in is a 401
    signin = paths["/api/v1/auths/signin"]["post"]["responses"]
    assert {"401", "413", "422"} <= set(signin)
    # routes that use no caller never answer 403
    assert "403" not in signin
    assert "503" in paths["/healthz"]["get"]["responses"]


@pytest.mark.parametrize(("method", "path", "media_types"), [
    ("post", "/api/chat", {"application/json", "text/event-stream", "application/x-ndjson"}),
    ("get", "/api/v1/chats/all/export", {"application/zip"}),
    ("get", "/api/v1/chats/share/{share_id}/files.zip", {"application/zip"}),
    ("get", "/api/v1/chats/{chat_id}/share/qr", {"image/svg+xml", "image/png"}),
    ("get", "/api/v1/files/{file_id}/content", {"image/*", "application/octet-stream"}),
    ("get", "/api/v1/chats/{chat_id}/export",
     {"application/json", "application/pdf", "text/csv; charset=utf-8"}),
])
async def test_routes_answering_other_media_types_document_them(
    client: httpx.AsyncClient, method: str, path: str, media_types: set[str]
) -> None:
    content = (await openapi(client))["paths"][path][method]["responses"]["200"]["content"]
    assert media_types <= set(content)
    if "application/json" not in media_types:
        assert "application/json" not in content


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("OPTIONS", "/api/chat/sessions", "GET, POST"),  # two routes on one path
    ("PUT", "/api/v1/chats/abc", "DELETE, GET"),
    ("OPTIONS", "/api/v1/auths/signout", "GET, POST"),
    ("OPTIONS", "/api/v1/chats/import", "POST"),  # not the chat whose id would be "import"
    ("OPTIONS", "/api/v1/chats/shared", "GET"),
])
async def test_an_unsupported_method_gets_405_naming_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    r = await client.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.json()["code"] == "METHOD_NOT_ALLOWED"


def test_schemathesis_finds_no_conformance_failures(settings: Settings, tmp_path: Path) -> None:
    """Every phase that checks single answers (examples, coverage, fuzzing), signed in with an
    API token (fuzzing the sign-out route must not end the run's credentials). Half the ids it
    generates are of stored chats and shares, so answers with data are checked too."""
    with serve(settings) as base:
        session = {"Authorization": f"Bearer {sign_up(base)}"}
        token = httpx.post(f"{base}/api/v1/auths/api_keys", json={"name": "contract"},
                           headers=session).json()["token"]
        config = tmp_path / "schemathesis.toml"
        config.write_text(stored_ids_config(*seed_chats(base, session)))
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
             f"{base}/openapi.json", "--header", f"Authorization: Bearer {token}",
             "--checks", ",".join(CONFORMANCE_CHECKS), "--phases", "examples,coverage,fuzzing",
             "--max-examples", str(MAX_EXAMPLES), "--generation-database", "none",
             "--no-color", "--workers", "1"],
            capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


def sign_up(base: str) -> str:
    r = httpx.post(f"{base}/api/v1/auths/signup", json={
        "name": "Contract", "email": "contract@example.com", "password": "long enough pw"})
    token: str = r.json()["token"]
    return token


def seed_chats(base: str, session: dict[str, str]) -> tuple[list[str], list[str]]:
    """Three answered chats, each shared: (chat ids, share ids)."""
    chats, shares = [], []
    for n in range(3):
        chat = httpx.post(f"{base}/api/chat", json={"q": f"hello {n}", "stream": False},
                          headers=session, timeout=30).json()
        chats.append(chat["conversationId"])
        share = httpx.post(f"{base}/api/v1/chats/{chat['conversationId']}/share", json={},
                           headers=session)
        shares.append(share.json()["share_id"])
    return chats, shares


def stored_ids_config(chats: list[str], shares: list[str]) -> str:
    lines = [f"[dictionaries.chats]\nvalues = {json.dumps(chats)}",
             f"[dictionaries.shares]\nvalues = {json.dumps(shares)}", "[parameters]"]
    for key, dictionary in (("path.chat_id", "chats"), ("path.conversation_id", "chats"),
                            ("query.conversation_id", "chats"), ("path.share_id", "shares")):
        lines.append(f'"{key}" = {{ dictionary = "{dictionary}", probability = 0.5 }}')
    return "\n".join([*lines, *SEMANTIC_422]) + "\n"


# Operations with a 422 that OpenAPI cannot describe: a password change is refused when the
# current password is not the account's (INCORRECT_PASSWORD, stored state); Khoj's rename
# takes its two fields from the JSON body or from the query, and needs them in one of them.
SEMANTIC_422 = [
    line for path in ("/api/v1/auths/update/password", "/api/chat/title") for line in (
        "[[operations]]", f'include-path = "{path}"',
        'checks.positive_data_acceptance.expected-statuses = '
        '["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]')]


async def test_a_whole_number_written_with_a_zero_fraction_is_an_integer(alice: UserClient) -> None:
    """JSON Schema's integers include ``3600.0``; the document says integer, so it is one."""
    chat_id = await alice.new_conversation("hello")
    r = await alice.http.post(f"/api/v1/chats/{chat_id}/share", json={"expires_in": 3600.0})
    assert r.status_code == 200, r.text
    r = await alice.http.post(f"/api/v1/chats/{chat_id}/share", json={"expires_in": 3600.5})
    assert r.status_code == 422


async def test_checks_made_by_services_are_in_the_request_schemas(
    client: httpx.AsyncClient
) -> None:
    schemas = (await openapi(client))["components"]["schemas"]
    assert schemas["RevokeAllBody"]["properties"]["confirm"]["enum"] == ["REVOKE"]
    assert "Europe/Paris" in str(schemas["ChatBody"]["properties"]["timezone"]["enum"])
    signup = schemas["SignupBody"]["properties"]
    assert signup["password"]["minLength"] == 8 and "pattern" in signup["email"]
    assert "\\x00" in signup["profile_image_url"]["anyOf"][0]["pattern"]
