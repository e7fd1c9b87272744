"""Crafted input that used to give 500s: lone surrogates and NUL characters in chat requests and
imports, times at the calendar's ends in imports and on the dashboard, and a list import whose
item the database refuses midway. Each answers 4xx (or is reported in the import's report),
on SQLite and PostgreSQL, and nothing unstorable reaches the database."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import UserClient
from tests.web.test_dashboard_page import HTML, log_in, titles
from tests.web.test_share_viewing_api import get_chat
from tests.web.test_transfer_api import IMPORT, carried, document, message

UNSTORABLE = {"lone high surrogate": "\\ud800", "lone low surrogate": "say \\udfff",
              "NUL": "a\\u0000b"}


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["detail"], body
    return body


async def raw_post(user: UserClient, path: str, raw: str) -> httpx.Response:
    """``raw`` exactly as a client could send it (httpx would re-encode a Python value)."""
    return await user.http.post(path, content=raw.encode(),
                                headers={"Content-Type": "application/json"})


async def session_count(user: UserClient) -> int:
    r = await user.http.get("/api/chat/sessions")
    assert r.status_code == 200, r.text
    return len(r.json())


# --- chat ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", list(UNSTORABLE.values()), ids=list(UNSTORABLE))
@pytest.mark.parametrize("stream", ["false", "true"])
async def test_chat_message_that_cannot_be_stored_is_a_422(
    alice: UserClient, text: str, stream: str
) -> None:
    r = await raw_post(alice, "/api/chat", f'{{"q": "{text}", "stream": {stream}}}')
    body = assert_error(r, 422, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] == "q"
    assert "NUL" in body["detail"] and "surrogate" in body["detail"]
    assert await session_count(alice) == 0  # nothing was stored


@pytest.mark.parametrize("field", [
    '"title": "T\\u0000"', '"files": [{"name": "a.txt", "content": "x\\udc00"}]',
    '"conversation_id": "c\\u0000"'])
async def test_other_chat_fields_that_cannot_be_stored_are_a_422(
    alice: UserClient, field: str
) -> None:
    r = await raw_post(alice, "/api/chat", f'{{"q": "hello", "stream": false, {field}}}')
    assert_error(r, 422, "VALIDATION_ERROR")
    assert await session_count(alice) == 0


async def test_a_paired_surrogate_is_an_ordinary_character(alice: UserClient) -> None:
    r = await raw_post(alice, "/api/chat", '{"q": "smile \\ud83d\\ude00", "stream": false}')
    assert r.status_code == 200, r.text
    assert "smile \U0001f600" in r.json()["response"]


# --- imports ------------------------------------------------------------------------------------

def salon_doc(title: str, *, created: str = "2025-05-04T10:00:00+00:00") -> dict[str, Any]:
    doc = document(message("user", {"type": "text", "text": f"about {title}"}), title=title)
    doc["conversation"]["id"] = title
    doc["conversation"]["created_at"] = created
    return doc


def gpt_doc(title: str, create_time: object) -> dict[str, Any]:
    return {"title": title, "create_time": create_time, "update_time": None,
            "current_node": "n1",
            "mapping": {"n1": {"id": "n1", "parent": None, "children": [], "message": {
                "author": {"role": "user"}, "create_time": None,
                "content": {"content_type": "text", "parts": [f"about {title}"]}}}}}


def raw_list(*items: dict[str, Any]) -> str:
    return "[" + ",".join(json.dumps(i) for i in items) + "]"


async def imported_titles(user: UserClient, report: dict[str, Any]) -> list[str]:
    return [(await get_chat(user, e["chat_id"]))["title"] for e in report["imported"]]


@pytest.mark.parametrize("broken", [
    salon_doc("year one east", created="0001-01-01T00:00:00+05:00"),
    salon_doc("year 9999 west", created="9999-12-31T23:59:59-05:00"),
    gpt_doc("chatgpt year one", "0001-01-01T03:00:00+05:00"),
], ids=["salon-year-1", "salon-year-9999", "chatgpt-year-1"])
async def test_a_time_outside_the_calendar_in_utc_is_reported(
    alice: UserClient, broken: dict[str, Any]
) -> None:
    r = await raw_post(alice, IMPORT, raw_list(salon_doc("before"), broken, salon_doc("after")))
    assert r.status_code == 200, r.text
    report = r.json()
    assert await imported_titles(alice, report) == ["before", "after"]
    [failed] = report["failed"]
    assert failed["index"] == 1 and failed["code"] == "VALIDATION_ERROR"
    assert "out of range" in failed["reason"] and "years 1 to 9999" in failed["reason"]


async def test_times_at_the_calendar_ends_in_utc_are_kept(alice: UserClient) -> None:
    report = (await raw_post(alice, IMPORT, raw_list(
        salon_doc("first day", created="0001-01-01T00:00:00+00:00"),
        salon_doc("last second", created="9999-12-31T23:59:59+00:00"),
        salon_doc("before 1970", created="1900-01-01T00:00:00-05:00")))).json()
    assert await imported_titles(alice, report) == ["first day", "last second", "before 1970"]


async def test_a_single_conversation_outside_the_calendar_is_a_422(alice: UserClient) -> None:
    r = await raw_post(alice, IMPORT,
                       json.dumps(salon_doc("alone", created="0001-01-01T00:00:00+01:00")))
    assert "out of range" in assert_error(r, 422, "VALIDATION_ERROR")["detail"]


async def test_unstorable_text_in_an_import_is_replaced(alice: UserClient) -> None:
    """A NUL or a lone high surrogate is replaced by U+FFFD (the parser itself reads the high
    one as "?"); what follows is imported too."""
    nul = salon_doc("nul\x00title")
    first = json.dumps(salon_doc("surrogate")).replace("about surrogate", "about \\ud800 x")
    report = (await raw_post(alice, IMPORT,
                             "[" + ",".join([first, json.dumps(nul)]) + "]")).json()
    assert len(report["imported"]) == 2, report
    chats = [await get_chat(alice, e["chat_id"]) for e in report["imported"]]
    assert chats[0]["chat"]["messages"][0]["parts"][0]["text"] in ("about ? x",
                                                                  "about \ufffd x")
    assert chats[1]["chat"]["messages"][0]["parts"][0]["text"] == "about nul\ufffdtitle"


async def test_pre_parsed_documents_with_lone_surrogates_are_stored_cleaned(
    app: Any, alice: UserClient
) -> None:
    """Documents handed over already parsed (the CLI, Python callers) may hold any str."""
    from salon.services import importing
    from salon.store import users as user_repo

    doc = salon_doc("pre parsed")
    doc["conversation"]["messages"][0]["parts"][0]["text"] = "a\ud800b\x00c"
    doc["conversation"]["title"] = "t\udc00"
    ctx = app.state.ctx
    async with ctx.engine.connect() as conn:
        user = await user_repo.get_user(conn, alice.id)
    assert user is not None
    report = await importing.import_documents(ctx, user, [doc])
    [entry] = report.imported
    chat = await get_chat(alice, entry["chat_id"])
    assert chat["chat"]["messages"][0]["parts"][0]["text"] == "a\ufffdb\ufffdc"


async def test_a_lone_low_surrogate_ends_the_list_but_keeps_what_came_before(
    alice: UserClient
) -> None:
    """The JSON parser cannot go on after a lone low surrogate: reported like a file that
    breaks off there."""
    broken = json.dumps(salon_doc("broken")).replace("about broken", "about \\udc00")
    r = await raw_post(alice, IMPORT, "[" + ",".join(
        [json.dumps(salon_doc("kept")), broken, json.dumps(salon_doc("unread"))]) + "]")
    assert r.status_code == 200, r.text
    report = r.json()
    assert await imported_titles(alice, report) == ["kept"]
    [failed] = report["failed"]
    assert failed["index"] == 1 and failed["code"] == "INVALID_JSON"
    assert "lone surrogate" in failed["reason"]


async def test_a_media_type_longer_than_its_column_is_replaced(alice: UserClient) -> None:
    """129 characters passed the old pattern and PostgreSQL refused the row midway."""
    long_type = "a" * 64 + "/" + "b" * 64
    doc = document(message("user", {"type": "file", "file_id": "f", "name": "n.txt",
                                    "media_type": long_type, "size": 2}),
                   files=[carried("f", b"hi", media_type=long_type)], title="long type")
    report = (await raw_post(alice, IMPORT,
                             raw_list(salon_doc("before"), doc, salon_doc("after")))).json()
    assert await imported_titles(alice, report) == ["before", "long type", "after"]


@pytest.fixture
async def refusing_database(engine: AsyncEngine) -> AsyncIterator[str]:
    """A real database that refuses to store a conversation titled "poison" (a trigger), as
    a database refuses a value it cannot hold. Yields the title."""
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            await conn.execute(sa.text(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON conversations "
                "WHEN NEW.title = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"))
        else:
            await conn.execute(sa.text(
                "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                "IF NEW.title = 'poison' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"))
            await conn.execute(sa.text(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON conversations "
                "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"))
    try:
        yield "poison"
    finally:
        async with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                await conn.execute(sa.text("DROP TRIGGER refuse_poison"))
            else:
                await conn.execute(sa.text("DROP TRIGGER refuse_poison ON conversations"))
                await conn.execute(sa.text("DROP FUNCTION refuse_poison()"))


async def test_an_item_the_database_refuses_midway_is_reported(
    alice: UserClient, refusing_database: str
) -> None:
    items = [salon_doc("first"), salon_doc(refusing_database), salon_doc("third")]
    r = await raw_post(alice, IMPORT, raw_list(*items))
    assert r.status_code == 200, r.text
    report = r.json()
    assert await imported_titles(alice, report) == ["first", "third"]
    assert [(f["index"], f["code"]) for f in report["failed"]] == [(1, "IMPORT_NOT_STORED")]
    assert "refused" not in report["failed"][0]["reason"].split(";")[1]  # no database text
    assert await session_count(alice) == 2  # nothing of the refused one was kept
    single = await raw_post(alice, IMPORT, json.dumps(copy.deepcopy(items[1])))
    assert_error(single, 422, "IMPORT_NOT_STORED")


# --- the dashboard ------------------------------------------------------------------------------

BOUNDS = ["end=9999-12-31", "start=9999-12-31T23:59:59-05:00",
          "end=9999-12-31T23:59:59-05:00", "start=0001-01-01T00:00:00%2B05:00",
          "start=0001-01-01", "end=1969-12-31"]


@pytest.mark.parametrize("bound", BOUNDS)
async def test_dashboard_bounds_at_the_calendar_ends(
    alice: UserClient, client: httpx.AsyncClient, bound: str
) -> None:
    chat_id = await alice.new_conversation("shared one")
    await alice.share(chat_id)
    r = await alice.http.get(f"/api/v1/chats/shared?{bound}")
    assert r.status_code == 200, r.text
    expected = 0 if bound.startswith("start=9999") or bound.startswith("end=1969") else 1
    assert r.json()["total"] == expected
    await log_in(client, alice)
    page = await client.get(f"/shared?{bound}", headers=HTML)
    assert page.status_code == 200, page.text
    assert len(titles(page.text)) == expected


async def test_dashboard_query_with_nul(alice: UserClient, client: httpx.AsyncClient) -> None:
    r = await alice.http.get("/api/v1/chats/shared?query=a%00b")
    assert assert_error(r, 422, "VALIDATION_ERROR")["field"] == "query"
    await log_in(client, alice)
    page = await client.get("/shared?query=a%00b", headers=HTML)
    assert page.status_code == 200, page.text
    assert "were not understood and were ignored" in page.text
