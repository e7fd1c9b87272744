"""Importing Open WebUI and ChatGPT exports through the API: the current branch only, models
and times kept, mixed lists, twice is skipped, broken conversations reported by index, hostile
content stored as text, bodies that break off, and the spooled body never left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from salon.config import Settings
from salon.services import importing
from salon.store import users as user_repo
from tests.domain.test_imports import (
    PNG,
    T0,
    gpt_conversation,
    history,
    nodes,
    owui_chat,
    owui_message,
)
from tests.factories import UserClient
from tests.web.test_share_viewing_api import get_chat
from tests.web.test_transfer_api import EVERY_PART, IMPORT, imported

# The body as the other apps write it (not as httpx would re-encode a Python value).
OWUI_EXPORT = json.dumps([owui_chat()], indent=1).encode()
GPT_EXPORT = json.dumps([gpt_conversation()], indent=1).encode()


async def post(user: UserClient, body: bytes) -> httpx.Response:
    return await user.http.post(IMPORT, content=body,
                                headers={"Content-Type": "application/json"})


async def report_of(user: UserClient, body: bytes) -> dict[str, Any]:
    r = await post(user, body)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def said(chat: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    return [(m["role"], [p.get("text", p.get("code", p["type"])) for p in m["parts"]])
            for m in chat["chat"]["messages"]]


@pytest.fixture
def spool_dir(settings: Settings) -> Path:
    path: Path = settings.data_dir / "tmp"
    return path


def assert_nothing_spooled(spool_dir: Path) -> None:
    assert not spool_dir.exists() or list(spool_dir.iterdir()) == []


async def test_open_webui_export_imports_the_current_branch(
    alice: UserClient, spool_dir: Path
) -> None:
    report = await report_of(alice, OWUI_EXPORT)
    [entry] = report["imported"]
    assert entry["source"] == "openwebui" and entry["messages"] == 4 and entry["index"] == 0
    chat = await get_chat(alice, entry["chat_id"])
    assert chat["title"] == "Branchy" and chat["created_at"] == T0
    assert said(chat) == [("user", ["Hi <b>there</b>"]), ("assistant", ["New **answer**"]),
                          ("user", ["And this?", "image", "[file not included: passwd]"]),
                          ("assistant", ["Sure."])]
    assert "Old answer" not in json.dumps(chat)  # the abandoned branch
    assert [m["model"] for m in chat["chat"]["messages"]] == [None, "llama3:70b", None,
                                                              "llama3:70b"]
    assert [m["timestamp"] for m in chat["chat"]["messages"]] == [T0, T0 + 10, T0 + 20,
                                                                  T0 + 30]
    image = chat["chat"]["messages"][2]["parts"][1]
    r = await alice.http.get(f"/api/v1/files/{image['file_id']}/content")
    assert r.status_code == 200 and r.content == PNG
    assert_nothing_spooled(spool_dir)


async def test_chatgpt_export_imports_the_current_path(alice: UserClient) -> None:
    [entry] = (await report_of(alice, GPT_EXPORT))["imported"]
    assert entry["source"] == "chatgpt" and entry["title"] == "Plots and cats"
    chat = await get_chat(alice, entry["chat_id"])
    assert said(chat) == [
        ("user", ["Plot <script>x</script>"]), ("assistant", ["print(1)"]),
        ("assistant", ["Done."]),
        ("user", ["[image not included: file-service://file-abc]", "What is this?"]),
        ("assistant", ["tool_call"]), ("assistant", ["Here is a cat."])]
    assert chat["chat"]["messages"][1]["parts"][0]["output"] == "1"
    assert "abandoned" not in json.dumps(chat)
    assert chat["chat"]["models"] == ["gpt-4o", "gpt-4o-mini"]
    # The page renders the imported HTML as text, never as markup.
    r = await alice.http.get(f"/c/{entry['chat_id']}/messages")
    assert r.status_code == 200
    assert "<script>x</script>" not in r.text and "&lt;script&gt;x&lt;/script&gt;" in r.text


async def test_the_same_export_twice_is_skipped(alice: UserClient, bob: UserClient) -> None:
    first = await report_of(alice, OWUI_EXPORT + b"\n")
    again = await report_of(alice, OWUI_EXPORT)
    assert not again["imported"] and [s["chat_id"] for s in again["skipped"]] == [
        first["imported"][0]["chat_id"]]
    assert (await report_of(alice, GPT_EXPORT))["imported"]
    assert (await report_of(alice, GPT_EXPORT))["skipped"][0]["index"] == 0
    # Someone else importing the same file gets their own copy.
    assert len((await report_of(bob, OWUI_EXPORT))["imported"]) == 1
    r = await alice.http.get("/api/v1/chats/")
    assert len(r.json()) == 2


async def test_a_mixed_list_with_a_broken_conversation(alice: UserClient) -> None:
    cycle = owui_chat()
    history(cycle)["u1"]["parentId"] = "a3"
    wrong = gpt_conversation()
    nodes(wrong)["a2"]["message"]["author"]["role"] = 7
    body = json.dumps([gpt_conversation(), cycle, EVERY_PART, wrong, {"hello": 1},
                       owui_chat()]).encode()
    report = await report_of(alice, body)
    assert [(e["index"], e["source"]) for e in report["imported"]] == [
        (0, "chatgpt"), (2, "salon"), (5, "openwebui")]
    failed = {f["index"]: f for f in report["failed"]}
    assert sorted(failed) == [1, 3, 4]
    assert failed[1]["source"] == "openwebui" and "form a cycle" in failed[1]["reason"]
    assert failed[3]["source"] == "chatgpt" and "author.role must be one of" in failed[3][
        "reason"]
    assert failed[4]["code"] == "UNSUPPORTED_IMPORT_FORMAT" and "source" not in failed[4]
    r = await alice.http.get("/api/v1/chats/")
    assert len(r.json()) == 3


async def test_a_single_broken_chat_is_a_422_saying_where(alice: UserClient) -> None:
    chat = owui_chat()
    history(chat)["a2"]["content"] = {"html": "<b>"}
    r = await post(alice, json.dumps(chat).encode())
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_ERROR"
    assert "chat.chat.history.messages['a2'].content must be a string" in r.json()["detail"]
    assert (await alice.http.get("/api/v1/chats/")).json() == []


async def test_a_single_chat_object_and_wrapper_are_read(alice: UserClient) -> None:
    single = await report_of(alice, json.dumps(owui_chat()).encode())
    wrapper = {"chat": {"title": "Wrapped", "messages": [
        owui_message("m", None, [], "user", "wrapped <i>text</i>", T0)]}}
    wrapped = await report_of(alice, json.dumps(wrapper).encode())
    assert single["imported"][0]["source"] == wrapped["imported"][0]["source"] == "openwebui"
    chat = await get_chat(alice, wrapped["imported"][0]["chat_id"])
    assert chat["title"] == "Wrapped" and said(chat) == [("user", ["wrapped <i>text</i>"])]


@pytest.mark.parametrize(("body", "code", "words"), [
    (b"{not json", "INVALID_JSON", "not valid JSON"),
    (b"", "INVALID_JSON", "not valid JSON"),
    (b"\xff\xfe[]", "INVALID_JSON", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "INVALID_JSON", "nested more than 500"),
    (b"[1, 2, {\"hello\": []}]", "UNSUPPORTED_IMPORT_FORMAT", "Open WebUI"),
    (b'{"title": "not a chat"}', "UNSUPPORTED_IMPORT_FORMAT", "ChatGPT"),
    (b"42", "UNSUPPORTED_IMPORT_FORMAT", "none of those"),
    (b"[]", "UNSUPPORTED_IMPORT_FORMAT", "empty"),
])
async def test_unreadable_bodies_are_clear_422s(
    alice: UserClient, spool_dir: Path, body: bytes, code: str, words: str
) -> None:
    r = await post(alice, body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code and words in r.json()["detail"]
    assert (await alice.http.get("/api/v1/chats/")).json() == []
    assert_nothing_spooled(spool_dir)


async def test_a_body_that_breaks_off_keeps_what_came_before(alice: UserClient) -> None:
    whole = json.dumps([owui_chat(), gpt_conversation()]).encode()
    cut = whole[: len(whole) - 200]
    report = await report_of(alice, cut)
    assert [e["source"] for e in report["imported"]] == ["openwebui"]
    [broken] = report["failed"]
    assert broken["index"] == 1 and broken["code"] == "INVALID_JSON"
    assert "not valid JSON after conversation #0" in broken["reason"]
    assert "premature EOF" in broken["reason"]


async def test_a_too_deep_conversation_in_a_list_is_reported(alice: UserClient) -> None:
    deep = b"[" * 2000 + b"]" * 2000
    body = b"[" + deep + b", " + OWUI_EXPORT[1:]
    report = await report_of(alice, body)
    assert [e["index"] for e in report["imported"]] == [1]
    assert report["failed"] == [{"index": 0, "code": "INVALID_JSON",
                                 "reason": "It is nested more than 500 levels deep."}]


async def test_a_byte_order_mark_is_fine(alice: UserClient) -> None:
    report = await report_of(alice, b"\xef\xbb\xbf" + GPT_EXPORT)
    assert len(report["imported"]) == 1


@pytest.mark.parametrize("settings_overrides", [{"max_body_bytes": 4096}])
async def test_a_body_over_the_limit_is_413_and_leaves_nothing(
    alice: UserClient, spool_dir: Path
) -> None:
    big = json.dumps([owui_chat()] * 20).encode()
    r = await post(alice, big)
    assert r.status_code == 413 and r.json()["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> Any:  # no Content-Length: the limit applies while streaming
        for start in range(0, len(big), 1000):
            yield big[start:start + 1000]

    r = await alice.http.post(IMPORT, content=chunks(),
                              headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert_nothing_spooled(spool_dir)
    assert (await alice.http.get("/api/v1/chats/")).json() == []


async def test_anonymous_import_is_refused_before_reading(client: httpx.AsyncClient,
                                                          spool_dir: Path) -> None:
    r = await client.post(IMPORT, content=OWUI_EXPORT,
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert_nothing_spooled(spool_dir)


async def test_imported_through_the_api_imports_again_from_the_python_value(
    alice: UserClient
) -> None:
    """httpx's own JSON encoding (no spaces) has the same fingerprint: the source object is
    what counts, not its bytes."""
    await report_of(alice, OWUI_EXPORT)
    report = await imported(alice, [owui_chat()])
    assert report["skipped"] and not report["imported"]


async def test_already_parsed_json_imports_the_same_way(app: Any, alice: UserClient) -> None:
    """``import_documents`` (a value, not a file) reads the same formats and skips the same
    conversations as the streamed import."""
    ctx = app.state.ctx
    async with ctx.engine.connect() as conn:
        found = await user_repo.get_user_with_hash(conn, alice.email)
    assert found is not None
    first = await importing.import_documents(ctx, found[0], [owui_chat(), gpt_conversation()])
    assert [e["source"] for e in first.imported] == ["openwebui", "chatgpt"]
    again = await report_of(alice, OWUI_EXPORT)
    assert again["skipped"][0]["chat_id"] == first.imported[0]["chat_id"]
    deep: Any = "x"
    for _ in range(600):
        deep = {"x": deep}
    report = await importing.import_documents(ctx, found[0], [deep, gpt_conversation()])
    assert report.failed[0]["code"] == "INVALID_JSON" and report.skipped[0]["index"] == 1
