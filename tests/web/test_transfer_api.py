"""Salon's own conversation file through the API: export, import, the round trip of every part
type, skipping what was already imported, reporting broken conversations by index, hostile
files, and nobody exporting anyone else's chat."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

import httpx
import pytest

from tests.factories import UserClient
from tests.web.test_share_viewing_api import PNG, chat_with_files, get_chat

IMPORT = "/api/v1/chats/import"
T0 = "2025-05-04T10:00:00+00:00"


async def export(user: UserClient, chat_id: str, **params: str) -> httpx.Response:
    return await user.http.get(f"/api/v1/chats/{chat_id}/export",
                               params={"format": "json", **params})


async def exported(user: UserClient, chat_id: str) -> dict[str, Any]:
    r = await export(user, chat_id)
    assert r.status_code == 200, r.text
    document: dict[str, Any] = r.json()
    return document


async def import_(user: UserClient, payload: Any) -> httpx.Response:
    return await user.http.post(IMPORT, json=payload)


async def imported(user: UserClient, payload: Any) -> dict[str, Any]:
    r = await import_(user, payload)
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def stripped(chat: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat's messages without the ids that differ between copies."""
    out = []
    for m in chat["chat"]["messages"]:
        parts = [{k: v for k, v in p.items() if k != "file_id"} for p in m["parts"]]
        out.append({"role": m["role"], "parts": parts, "model": m["model"], "usage": m["usage"],
                    "status": m["status"], "timestamp": m["timestamp"]})
    return out


def document(*messages: dict[str, Any], files: list[dict[str, Any]] | None = None,
             title: str = "Hand-written chat") -> dict[str, Any]:
    return {"format": "salon.conversation", "version": 1, "exported_at": T0,
            "conversation": {"id": "source-1", "title": title, "created_at": T0,
                             "updated_at": T0, "recipe": {"model": "m1", "temperature": 0.2},
                             "messages": list(messages), "files": files or []}}


def message(role: str, *parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "x", "role": role, "created_at": T0, "turn_id": "t1", "model": None,
            "status": "complete", "usage": {}, "parts": list(parts), **extra}


def carried(file_id: str, data: bytes, name: str = "notes.txt",
            media_type: str = "text/plain") -> dict[str, Any]:
    return {"id": file_id, "name": name, "media_type": media_type, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "data": base64.b64encode(data).decode()}


EVERY_PART = document(
    message("user", {"type": "text", "text": "Show me **everything**"},
            {"type": "image", "file_id": "f-img", "name": "dot.png", "media_type": "image/png",
             "size": len(PNG)},
            {"type": "file", "file_id": "f-txt", "name": "notes.txt",
             "media_type": "text/plain", "size": 5}),
    message("assistant",
            {"type": "thought", "text": "Let me think."},
            {"type": "tool_call", "id": "c1", "name": "search",
             "arguments": {"q": "salon"}, "result": {"hits": [1, 2]}},
            {"type": "citation", "title": "Docs", "url": "https://example.com/docs",
             "snippet": "A snippet", "source": "web"},
            {"type": "table", "columns": ["a", "b"], "rows": [[1, "x"], [2, None]],
             "caption": "Numbers"},
            {"type": "chart", "title": "Growth",
             "spec": {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {}}},
            {"type": "code", "language": "python", "code": "print(1)", "output": "1"},
            {"type": "text", "text": "Done."},
            model="m1", usage={"prompt_tokens": 10, "completion_tokens": 20}),
    files=[carried("f-img", PNG, "dot.png", "image/png"), carried("f-txt", b"hello")],
)


# --- export ------------------------------------------------------------------------------------

async def test_export_is_a_download_with_the_files_inside(alice: UserClient) -> None:
    chat_id = await chat_with_files(alice, ("report.csv", "a,b\n1,2\n"))
    r = await export(alice, chat_id)
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith('attachment; filename="look-at-these')
    assert r.headers["content-disposition"].endswith(".salon.json")
    assert r.headers["x-content-type-options"] == "nosniff"
    body = r.json()
    assert body["format"] == "salon.conversation" and body["version"] == 1
    conv = body["conversation"]
    assert conv["id"] == chat_id and [m["role"] for m in conv["messages"]] == [
        "user", "assistant"]
    bodies = {f["name"]: base64.b64decode(f["data"]) for f in conv["files"]}
    assert bodies["report.csv"] == b"a,b\n1,2\n" and PNG in bodies.values()
    named = {p["file_id"] for m in conv["messages"] for p in m["parts"] if "file_id" in p}
    assert named == {f["id"] for f in conv["files"]}


async def test_nobody_exports_anyone_elses_chat(alice: UserClient, bob: UserClient,
                                                client: httpx.AsyncClient) -> None:
    chat_id = await alice.new_conversation("mine")
    r = await export(bob, chat_id)
    assert r.status_code == 404 and r.json()["code"] == "CONVERSATION_NOT_FOUND"
    r = await client.get(f"/api/v1/chats/{chat_id}/export")
    assert r.status_code == 401


@pytest.mark.parametrize(("fmt", "words"), [("docx", "Unknown export format"),
                                            ("CSV", "use one of json, csv")])
async def test_other_formats_say_so(alice: UserClient, fmt: str, words: str) -> None:
    chat_id = await alice.new_conversation("hi")
    r = await export(alice, chat_id, format=fmt)
    assert r.status_code == 422
    assert r.json()["code"] == "FORMAT_NOT_SUPPORTED" and words in r.json()["detail"]


# --- round trips ---------------------------------------------------------------------------------

async def test_export_then_import_gives_the_same_conversation(
    alice: UserClient, bob: UserClient
) -> None:
    chat_id = await chat_with_files(alice, ("a.txt", "alpha"), ("b.md", "# beta"))
    await alice.chat("and a second turn", conversation_id=chat_id)
    report = await imported(bob, await exported(alice, chat_id))
    [entry] = report["imported"]
    assert entry["index"] == 0 and entry["messages"] == 4 and not report["failed"]
    original, copy_ = await get_chat(alice, chat_id), await get_chat(bob, entry["chat_id"])
    assert stripped(copy_) == stripped(original)
    assert copy_["title"] == original["title"] and copy_["recipe"] == original["recipe"]
    assert copy_["created_at"] == original["created_at"]
    # The files are bob's own now, with the same bytes.
    for m in copy_["chat"]["messages"]:
        for p in m["parts"]:
            if "file_id" in p:
                r = await bob.http.get(f"/api/v1/files/{p['file_id']}/content")
                assert r.status_code == 200
                assert (await alice.http.get(f"/api/v1/files/{p['file_id']}/content")
                        ).status_code == 404
    # And exporting the copy gives the same file back (but for ids and the export time).
    again = await exported(bob, entry["chat_id"])
    first = await exported(alice, chat_id)
    for doc in (again, first):
        doc.pop("exported_at")
        doc["conversation"].pop("id")
    assert [m["parts"] and m["role"] for m in again["conversation"]["messages"]] == [
        m["parts"] and m["role"] for m in first["conversation"]["messages"]]
    assert sorted(f["sha256"] for f in again["conversation"]["files"]) == sorted(
        f["sha256"] for f in first["conversation"]["files"])


async def test_every_part_type_round_trips(alice: UserClient) -> None:
    [entry] = (await imported(alice, EVERY_PART))["imported"]
    back = (await exported(alice, entry["chat_id"]))["conversation"]
    source = EVERY_PART["conversation"]
    ids = {f["id"]: f["sha256"] for f in back["files"]}
    source_ids = {f["id"]: f["sha256"] for f in source["files"]}
    for got, sent in zip(back["messages"], source["messages"], strict=True):
        assert got["role"] == sent["role"] and got["created_at"] == sent["created_at"]
        assert got["model"] == sent["model"] and got["usage"] == sent["usage"]
        for p, q in zip(got["parts"], sent["parts"], strict=True):
            if "file_id" in q:  # a new id, for the same bytes
                assert ids[p.pop("file_id")] == source_ids[q["file_id"]]
                q = {k: v for k, v in q.items() if k != "file_id"}
            assert p == q
    assert back["recipe"] == source["recipe"] and back["title"] == source["title"]


# --- twice, lists, failures -----------------------------------------------------------------------

async def test_the_same_file_twice_is_skipped_until_its_chat_is_deleted(
    alice: UserClient
) -> None:
    [first] = (await imported(alice, EVERY_PART))["imported"]
    report = await imported(alice, EVERY_PART)
    assert not report["imported"]
    assert report["skipped"] == [{"index": 0, "chat_id": first["chat_id"],
                                  "reason": "This conversation was already imported."}]
    r = await alice.http.delete(f"/api/v1/chats/{first['chat_id']}")
    assert r.status_code == 200, r.text
    [again] = (await imported(alice, EVERY_PART))["imported"]
    assert again["chat_id"] != first["chat_id"]


async def test_a_list_imports_the_good_and_reports_the_broken(alice: UserClient) -> None:
    broken = copy.deepcopy(EVERY_PART)
    broken["conversation"]["messages"][1]["parts"][0]["text"] = 42
    other = document(message("user", {"type": "text", "text": "a second chat"}),
                     title="Second")
    report = await imported(alice, [EVERY_PART, broken, other, {"format": "nope"}])
    assert [e["index"] for e in report["imported"]] == [0, 2]
    assert [(f["index"], f["code"]) for f in report["failed"]] == [
        (1, "VALIDATION_ERROR"), (3, "UNSUPPORTED_IMPORT_FORMAT")]
    assert "conversation.messages[1].parts[0].text must be a string" in report["failed"][0][
        "reason"]
    titles = {(await get_chat(alice, e["chat_id"]))["title"] for e in report["imported"]}
    assert titles == {"Hand-written chat", "Second"}


# --- hostile input --------------------------------------------------------------------------------

def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"x": value}
    return value


def with_part(part: dict[str, Any]) -> dict[str, Any]:
    return document(message("assistant", part))


@pytest.mark.parametrize(("payload", "words"), [
    ({"title": "not ours"}, "Salon imports its own conversation files"),
    ([], "empty"),
    ({**EVERY_PART, "version": 2}, "Unsupported Salon file version 2"),
    (with_part({"type": "text", "text": "x", "onclick": "alert(1)"}), "has no field 'onclick'"),
    (with_part({"type": "script", "text": "x"}), "unknown type 'script'"),
    (with_part({"type": "table", "columns": "a,b", "rows": []}), "columns must be a list"),
    (with_part({"type": "chart", "title": "x", "spec": deep(200)}), "nested more than"),
    (with_part({"type": "file", "file_id": "../../etc/passwd", "name": "x"}),
     "names a file"),
    (document(message("robot", {"type": "text", "text": "x"})), "role must be one of"),
    (document(message("user", {"type": "text", "text": "x"}, created_at="yesterday")),
     "not an ISO 8601 time"),
    (document(message("user", {"type": "text", "text": "x"}, created_at="2025-01-01T10:00")),
     "needs a time zone"),
    (document(files=[{**carried("f", b"data"), "sha256": "0" * 64}]), "does not match"),
    (document(files=[{**carried("f", b"data"), "data": "%%%"}]), "not valid base64"),
    (document(files=[carried("f", b"a"), carried("f", b"b")]), "used twice"),
])
async def test_a_bad_file_gets_a_clear_422(alice: UserClient, payload: Any, words: str) -> None:
    r = await import_(alice, payload)
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]
    r = await alice.http.get("/api/v1/chats/")
    assert r.json() == []  # nothing half-imported


async def test_broken_json_and_deep_json_are_refused(alice: UserClient) -> None:
    for body in (b"{not json", b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe"):
        r = await alice.http.post(IMPORT, content=body,
                                  headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["code"] == "INVALID_JSON", r.text


async def test_hostile_text_is_stored_as_inert_text(alice: UserClient) -> None:
    payload = document(
        message("user", {"type": "text", "text": "<script>alert(1)</script> nul:\x00:"}),
        message("assistant", {"type": "file", "file_id": "f", "name": "../../etc/passwd",
                              "media_type": "text/html; evil", "size": 4}),
        files=[carried("f", b"evil", name="../../etc/passwd", media_type="text/html; evil")],
        title="<img src=x onerror=alert(1)>\x00\n  title",
    )
    [entry] = (await imported(alice, payload))["imported"]
    chat = await get_chat(alice, entry["chat_id"])
    assert chat["title"] == "<img src=x onerror=alert(1)> title"
    first, second = chat["chat"]["messages"]
    assert first["parts"][0]["text"] == "<script>alert(1)</script> nul:\ufffd:"
    back = (await exported(alice, entry["chat_id"]))["conversation"]["files"]
    assert [(f["name"], f["media_type"]) for f in back] == [("passwd", "application/octet-stream")]
    r = await alice.http.get(f"/api/v1/files/{second['parts'][0]['file_id']}/content")
    assert r.status_code == 200 and r.content == b"evil"
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment")


async def test_anonymous_import_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(IMPORT, content=json.dumps(EVERY_PART),
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 401
