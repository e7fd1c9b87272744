"""Every conversation of a user in one streamed ZIP: ``GET /api/v1/chats/all/export``."""

from __future__ import annotations

import io
import json
import zipfile

import httpx

from salon.services.exporting import EXPORT_FORMATS
from salon.web.pages.settings import EXPORT_CHOICES
from tests.factories import UserClient

ARCHIVE = "/api/v1/chats/all/export"


async def archive_of(user: UserClient, **params: str) -> zipfile.ZipFile:
    r = await user.http.get(ARCHIVE, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="salon-chats-')
    return zipfile.ZipFile(io.BytesIO(r.content))


async def test_every_chat_once_and_nobody_elses(alice: UserClient, bob: UserClient) -> None:
    ids = {await alice.new_conversation("Same title") for _ in range(2)}
    ids.add(await alice.new_conversation("Another one"))
    await bob.new_conversation("Bob's secret")
    archive = await archive_of(alice)
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == 3 == len(set(names))
    assert all(n.endswith(".salon.json") for n in names)
    documents = [json.loads(archive.read(n)) for n in names]
    assert {d["conversation"]["id"] for d in documents} == ids
    assert "Bob's secret" not in json.dumps(documents)


async def test_no_chats_is_an_empty_archive(alice: UserClient) -> None:
    archive = await archive_of(alice)
    assert archive.namelist() == []


async def test_bad_format_and_strangers_are_refused(alice: UserClient,
                                                    client: httpx.AsyncClient) -> None:
    r = await alice.http.get(ARCHIVE, params={"format": "docx"})
    assert r.status_code == 422 and r.json()["code"] == "FORMAT_NOT_SUPPORTED"
    r = await client.get(ARCHIVE)
    assert r.status_code == 401


async def test_the_archive_round_trips_through_import(alice: UserClient, bob: UserClient) -> None:
    await alice.new_conversation("first", "second turn")
    await alice.new_conversation("third")
    archive = await archive_of(alice)
    documents = [json.loads(archive.read(n)) for n in archive.namelist()]
    r = await bob.http.post("/api/v1/chats/import", json=documents)
    assert r.status_code == 200, r.text
    assert len(r.json()["imported"]) == 2
    titles = sorted(c["title"] for c in (await bob.http.get("/api/v1/chats/")).json())
    assert titles == ["first", "third"]


async def test_the_settings_page_offers_every_format(alice: UserClient) -> None:
    assert {value for value, _ in EXPORT_CHOICES} == set(EXPORT_FORMATS)
    r = await alice.http.get("/settings", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert 'action="/api/v1/chats/all/export"' in r.text
    for value, _ in EXPORT_CHOICES:
        assert f'<option value="{value}">' in r.text


# --- importing from the settings page ----------------------------------------------------------

async def upload(user: UserClient, name: str, body: bytes) -> httpx.Response:
    return await user.http.post("/settings/import", data={"csrf_token": ""},
                                files={"file": (name, body, "application/json")},
                                headers={"Accept": "text/html"})


async def test_the_settings_page_imports_an_uploaded_file(alice: UserClient,
                                                          bob: UserClient) -> None:
    chat_id = await alice.new_conversation("from the settings page")
    exported = (await alice.http.get(f"/api/v1/chats/{chat_id}/export")).content
    broken = json.loads(exported)
    broken["conversation"]["messages"][0]["role"] = "robot"
    body = json.dumps([json.loads(exported), broken]).encode()
    r = await upload(bob, "two.json", body)
    assert r.status_code == 303 and r.headers["location"] == "/settings"
    r = await bob.http.get("/settings", headers={"Accept": "text/html"})
    assert "two.json: 1 imported, 0 already there, 1 failed." in r.text
    assert "Conversation #1: conversation.messages[0].role must be one of" in r.text
    titles = [c["title"] for c in (await bob.http.get("/api/v1/chats/")).json()]
    assert titles == ["from the settings page"]
    await upload(bob, "two.json", body)
    r = await bob.http.get("/settings", headers={"Accept": "text/html"})
    assert "0 imported, 1 already there, 1 failed." in r.text
    again = await bob.http.get("/settings", headers={"Accept": "text/html"})
    assert "already there" not in again.text  # said once


async def test_a_bad_upload_is_said_in_the_card(alice: UserClient) -> None:
    r = await upload(alice, "notes.txt", b"just notes")
    assert r.status_code == 422 and "notes.txt was not imported:" in r.text
    r = await alice.http.post("/settings/import", data={"csrf_token": ""},
                              headers={"Accept": "text/html"})
    assert r.status_code == 422 and "Choose a file to import." in r.text
