"""Other apps' exports read into Salon conversations: Open WebUI chats and ChatGPT's
conversations.json (the branch the user was on, models, times, parts), missing fields, hostile
values (clear InvalidInput, never a crash), and the streaming reader's bounded nesting."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ijson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salon.domain import imports
from salon.domain.errors import InvalidInput
from salon.domain.imports import chatgpt, common, openwebui, streaming
from salon.domain.salon_json import ParsedConversation

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T0 = 1_714_816_800  # 2024-05-04T10:00:00Z
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def owui_message(mid: str, parent: str | None, children: list[str], role: str, content: str,
                 at: int, **extra: Any) -> dict[str, Any]:
    return {"id": mid, "parentId": parent, "childrenIds": children, "role": role,
            "content": content, "timestamp": at, **extra}


def owui_chat() -> dict[str, Any]:
    """A chat whose first answer was regenerated (a1 -> a2): the user went on from a2."""
    messages = [
        owui_message("u1", None, ["a1", "a2"], "user", "Hi <b>there</b>", T0),
        owui_message("a1", "u1", [], "assistant", "Old answer", T0 + 5, model="llama3"),
        owui_message("a2", "u1", ["u2"], "assistant", "New **answer**", T0 + 10,
                     model="llama3:70b", usage={"prompt_tokens": 3, "note": "x"}),
        owui_message("u2", "a2", ["a3"], "user", "And this?", T0 + 20,
                     files=[{"type": "image", "url": PNG_URL},
                            {"type": "file", "name": "../../etc/passwd", "url": "/x"}]),
        owui_message("a3", "u2", [], "assistant", "Sure.", T0 + 30, model="llama3:70b"),
    ]
    return {"id": "c1", "title": "Branchy", "created_at": T0, "updated_at": T0 + 30,
            "chat": {"title": "Branchy", "models": ["llama3"],
                     "history": {"currentId": "a3",
                                 "messages": {m["id"]: m for m in messages}},
                     "messages": messages}}


def gpt_node(nid: str, parent: str | None, children: list[str], role: str | None,
             content: dict[str, Any] | None = None, **message: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"id": nid, "parent": parent, "children": children, "message": None}
    if role is not None:
        node["message"] = {"id": nid, "author": {"role": role, "name": message.pop("name", None)},
                           "create_time": message.pop("at", None), "content": content,
                           "recipient": message.pop("recipient", "all"),
                           "metadata": message.pop("metadata", {})}
    return node


def text(*parts: Any, kind: str = "text") -> dict[str, Any]:
    return {"content_type": kind, "parts": list(parts)}


def gpt_conversation() -> dict[str, Any]:
    """A conversation with a hidden system prompt, an abandoned branch (a0), code run by the
    python tool, an uploaded image and an image made by a tool."""
    nodes = [
        gpt_node("root", None, ["sys"], None),
        gpt_node("sys", "root", ["u1"], "system", text(""),
                 metadata={"is_visually_hidden_from_conversation": True}),
        gpt_node("u1", "sys", ["a0", "a1"], "user", text("Plot <script>x</script>"),
                 at=T0 + 0.5),
        gpt_node("a0", "u1", [], "assistant", text("abandoned"), at=T0 + 1),
        gpt_node("a1", "u1", ["t1"], "assistant",
                 {"content_type": "code", "language": "python", "text": "print(1)"},
                 at=T0 + 2, recipient="python", metadata={"model_slug": "gpt-4o"}),
        gpt_node("t1", "a1", ["a2"], "tool", {"content_type": "execution_output", "text": "1"},
                 at=T0 + 3, name="python"),
        gpt_node("a2", "t1", ["u2"], "assistant", text("Done."), at=T0 + 4,
                 metadata={"model_slug": "gpt-4o"}),
        gpt_node("u2", "a2", ["a3"], "user",
                 text({"content_type": "image_asset_pointer",
                       "asset_pointer": "file-service://file-abc"}, "What is this?",
                      kind="multimodal_text"), at=T0 + 10),
        gpt_node("a3", "u2", ["t2"], "assistant", text('{"prompt": "a cat"}'), at=T0 + 11,
                 recipient="dalle.text2im", metadata={"model_slug": "gpt-4o"}),
        gpt_node("t2", "a3", ["a4"], "tool",
                 text({"content_type": "image_asset_pointer",
                       "asset_pointer": "file-service://file-cat"}, kind="multimodal_text"),
                 at=T0 + 12, name="dalle.text2im"),
        gpt_node("a4", "t2", [], "assistant", text("Here is a cat."), at=T0 + 13,
                 metadata={"model_slug": "gpt-4o-mini"}),
    ]
    return {"title": "Plots and cats", "create_time": T0 + 0.25, "update_time": T0 + 13,
            "current_node": "a4", "mapping": {n["id"]: n for n in nodes}}


def texts(parsed: ParsedConversation) -> list[tuple[str, list[Any]]]:
    return [(m.role, [p.get("text", p.get("code")) for p in m.parts]) for m in parsed.messages]


# --- Open WebUI ------------------------------------------------------------------------------

def test_open_webui_keeps_the_current_branch_models_times_and_images() -> None:
    parsed = openwebui.parse_chat(owui_chat(), now=NOW)
    assert parsed.title == "Branchy"
    assert texts(parsed) == [
        ("user", ["Hi <b>there</b>"]), ("assistant", ["New **answer**"]),
        ("user", ["And this?", None, "[file not included: passwd]"]), ("assistant", ["Sure."])]
    assert [m.model for m in parsed.messages] == [None, "llama3:70b", None, "llama3:70b"]
    assert [m.created_at.timestamp() for m in parsed.messages] == [T0, T0 + 10, T0 + 20,
                                                                   T0 + 30]
    assert parsed.messages[1].usage == {"prompt_tokens": 3}
    assert [m.turn_id for m in parsed.messages] == ["t1", "t1", "t2", "t2"]
    assert parsed.created_at.timestamp() == T0 and parsed.updated_at.timestamp() == T0 + 30
    assert parsed.recipe == {"model": "llama3:70b"}
    [image] = parsed.files
    assert image.media_type == "image/png" and image.data == PNG
    assert parsed.messages[2].parts[1] == {"type": "image", "file_id": image.id,
                                           "name": image.name, "media_type": "image/png",
                                           "size": len(PNG)}


@pytest.mark.parametrize("shape", [
    lambda c: c,  # the chat with its outer metadata
    lambda c: {"chat": c["chat"]},  # the wrapper alone
    lambda c: c["chat"],  # the inner chat alone
])
def test_open_webui_shapes_are_all_read(shape: Callable[[dict[str, Any]], Any]) -> None:
    value = shape(owui_chat())
    assert imports.source_of(value) == "openwebui"
    parsed = imports.parse_conversation(value, "openwebui", now=NOW)
    assert [m.role for m in parsed.messages] == ["user", "assistant", "user", "assistant"]
    assert parsed.title == "Branchy"


def test_open_webui_without_history_reads_the_message_list() -> None:
    chat = owui_chat()
    del chat["chat"]["history"]
    chat["chat"]["messages"] = [owui_message("x", None, [], "user", "only one", T0)]
    assert texts(openwebui.parse_chat(chat, now=NOW)) == [("user", ["only one"])]


def test_open_webui_without_current_id_takes_the_newest_leaf() -> None:
    chat = owui_chat()
    chat["chat"]["history"]["currentId"] = None
    chat["chat"]["history"]["messages"]["a1"]["timestamp"] = T0 + 99  # the newest leaf now
    assert texts(openwebui.parse_chat(chat, now=NOW)) == [
        ("user", ["Hi <b>there</b>"]), ("assistant", ["Old answer"])]


def test_open_webui_missing_fields_get_defaults() -> None:
    parsed = openwebui.parse_chat({"chat": {"history": {"messages": {}}}}, now=NOW)
    assert parsed.title == "Imported chat" and parsed.messages == []
    assert parsed.created_at == NOW == parsed.updated_at and parsed.recipe == {}
    bare = {"chat": {"messages": [{"role": "user", "content": "no times"}]}}
    parsed = openwebui.parse_chat(bare, now=NOW)
    assert parsed.messages[0].created_at == NOW and parsed.title == "Imported chat"
    chat = owui_chat()
    del chat["created_at"], chat["updated_at"], chat["title"], chat["chat"]["title"]
    parsed = openwebui.parse_chat(chat, now=NOW)
    assert parsed.created_at.timestamp() == T0 and parsed.updated_at.timestamp() == T0 + 30


def test_open_webui_times_in_milliseconds_are_understood() -> None:
    chat = owui_chat()
    chat["created_at"] = T0 * 1000
    assert openwebui.parse_chat(chat, now=NOW).created_at.timestamp() == T0


# --- ChatGPT ---------------------------------------------------------------------------------

def test_chatgpt_keeps_the_current_path_with_code_tools_and_image_notes() -> None:
    parsed = chatgpt.parse_conversation(gpt_conversation(), now=NOW)
    assert parsed.title == "Plots and cats"
    assert texts(parsed) == [
        ("user", ["Plot <script>x</script>"]),
        ("assistant", ["print(1)"]), ("assistant", ["Done."]),
        ("user", ["[image not included: file-service://file-abc]", "What is this?"]),
        ("assistant", [None]), ("assistant", ["Here is a cat."])]
    code = parsed.messages[1].parts[0]
    assert code == {"type": "code", "code": "print(1)", "language": "python", "output": "1"}
    call = parsed.messages[4].parts[0]
    assert call == {"type": "tool_call", "id": "a3", "name": "dalle.text2im",
                    "arguments": '{"prompt": "a cat"}',
                    "result": "[image not included: file-service://file-cat]"}
    assert [m.model for m in parsed.messages] == [None, "gpt-4o", "gpt-4o", None, "gpt-4o",
                                                  "gpt-4o-mini"]
    assert parsed.messages[0].created_at.timestamp() == T0 + 0.5
    assert parsed.created_at.timestamp() == T0 + 0.25
    assert parsed.recipe == {"model": "gpt-4o-mini"}


def test_chatgpt_other_branch_when_it_is_current() -> None:
    conv = gpt_conversation()
    conv["current_node"] = "a0"
    assert texts(chatgpt.parse_conversation(conv, now=NOW)) == [
        ("user", ["Plot <script>x</script>"]), ("assistant", ["abandoned"])]


def test_chatgpt_output_without_code_and_tool_without_call() -> None:
    nodes = [gpt_node("u", None, ["t"], "user", text("go")),
             gpt_node("t", "u", ["b"], "tool", {"content_type": "execution_output",
                                                "text": "42"}),
             gpt_node("b", "t", [], "tool", text("found it"), name="browser")]
    conv = {"current_node": "b", "mapping": {n["id"]: n for n in nodes}}
    parsed = chatgpt.parse_conversation(conv, now=NOW)
    assert parsed.messages[1].role == "assistant"
    assert parsed.messages[1].parts == [
        {"type": "code", "code": "", "output": "42"},
        {"type": "tool_call", "id": "b", "name": "browser", "result": "found it"}]
    assert parsed.title == "Imported chat" and parsed.created_at == NOW


def test_chatgpt_other_content_types() -> None:
    nodes = [
        gpt_node("a", None, ["b"], "assistant", {"content_type": "thoughts", "thoughts": [
            {"summary": "Plan", "content": "think"}]}),
        gpt_node("b", "a", ["c"], "assistant", {"content_type": "tether_quote", "url": "u",
                                                "title": "T", "text": "quoted"}),
        gpt_node("c", "b", ["d"], "assistant", {"content_type": "reasoning_recap",
                                                "content": "Thought for 2s"}),
        gpt_node("d", "c", ["e"], "assistant", {"content_type": "strange_new_kind"}),
        gpt_node("e", "d", [], "user", {"content_type": "user_editable_context",
                                        "user_profile": "secret"}),
    ]
    conv = {"current_node": "e", "mapping": {n["id"]: n for n in nodes}}
    parts = [m.parts for m in chatgpt.parse_conversation(conv, now=NOW).messages]
    assert parts == [[{"type": "thought", "text": "Plan\n\nthink"}],
                     [{"type": "citation", "title": "T", "url": "u", "snippet": "quoted"}],
                     [{"type": "text", "text": "[strange_new_kind not included]"}]]


# --- recognising and fingerprints --------------------------------------------------------------

def test_sources_are_recognised_and_others_refused() -> None:
    assert imports.source_of(gpt_conversation()) == "chatgpt"
    assert imports.source_of(owui_chat()) == "openwebui"
    assert imports.source_of({"format": "salon.conversation"}) == "salon"
    others: list[object] = [{"title": "x"}, [], 3, None, {"chat": "text"}, {"mapping": []}]
    for other in others:
        assert imports.source_of(other) is None
    with pytest.raises(InvalidInput) as caught:
        imports.parse_conversation({"x": 1}, None, now=NOW)
    assert caught.value.code == "UNSUPPORTED_IMPORT_FORMAT"


def test_fingerprint_is_of_the_source_object() -> None:
    a = openwebui.parse_chat(owui_chat(), now=NOW)
    b = openwebui.parse_chat(json.loads(json.dumps(owui_chat())), now=NOW)
    assert a.fingerprint == b.fingerprint == common.fingerprint(owui_chat())
    changed = owui_chat()
    changed["title"] = "Other"
    assert openwebui.parse_chat(changed, now=NOW).fingerprint != a.fingerprint
    assert chatgpt.parse_conversation(gpt_conversation(), now=NOW).fingerprint == \
        common.fingerprint(gpt_conversation())


# --- hostile values ----------------------------------------------------------------------------

def owui_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    chat = owui_chat()
    change(chat)
    return chat


def gpt_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    conv = gpt_conversation()
    change(conv)
    return conv


def history(chat: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = chat["chat"]["history"]["messages"]
    return found


def nodes(conv: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = conv["mapping"]
    return found


@pytest.mark.parametrize(("value", "words"), [
    (owui_with(lambda c: history(c)["u1"].update(parentId="a3")), "form a cycle"),
    (owui_with(lambda c: history(c)["a2"].update(role="robot")),
     "messages['a2'].role must be one of"),
    (owui_with(lambda c: history(c)["a2"].update(content=["not", "text"])),
     "messages['a2'].content must be a string"),
    (owui_with(lambda c: history(c)["a2"].update(timestamp="yesterday")),
     "messages['a2'].timestamp is not a time"),
    (owui_with(lambda c: history(c)["a2"].update(timestamp=-5)), "not a plausible time"),
    (owui_with(lambda c: history(c)["a2"].update(timestamp=True)), "must be a time"),
    (owui_with(lambda c: history(c)["a2"].update(parentId=7)), "parent id must be a string"),
    (owui_with(lambda c: history(c)["u2"].update(files="x.txt")), "files must be a list"),
    (owui_with(lambda c: history(c)["u2"].update(files=[{"name": ["x"]}])),
     "files[0].name must be a string"),
    (owui_with(lambda c: c["chat"]["history"].update(currentId="nope")),
     "current message 'nope' is not in it"),
    (owui_with(lambda c: c["chat"]["history"].update(currentId=["a3"])),
     "current message id must be a string"),
    (owui_with(lambda c: c["chat"]["history"].update(messages=[1, 2])),
     "history.messages must be an object"),
    (owui_with(lambda c: c.update(title={"x": 1})), "chat.title must be a string"),
    (owui_with(lambda c: history(c).update(a3=None)), "messages['a3'] must be an object"),
    (gpt_with(lambda c: nodes(c)["u1"].update(parent="a4")), "form a cycle"),
    (gpt_with(lambda c: nodes(c)["a2"]["message"]["author"].update(role="robot")),
     "mapping['a2'].message.author.role must be one of"),
    (gpt_with(lambda c: nodes(c)["a2"]["message"]["content"].update(parts="text")),
     "mapping['a2'].message.content.parts must be a list"),
    (gpt_with(lambda c: nodes(c)["a2"]["message"]["content"].update(parts=[5])),
     "mapping['a2'].message.content.parts[0] must be a string"),
    (gpt_with(lambda c: nodes(c)["a2"]["message"].update(create_time=[1])), "must be a time"),
    (gpt_with(lambda c: nodes(c)["a2"]["message"]["metadata"].update(model_slug=1)),
     "model_slug must be a string"),
    (gpt_with(lambda c: nodes(c)["a2"].update(message="hello")),
     "mapping['a2'].message must be an object"),
    (gpt_with(lambda c: c.update(mapping={"a": {"id": "a", "parent": None}},
                                 current_node=42)), "current message id must be a string"),
])
def test_hostile_values_are_clear_errors(value: dict[str, Any], words: str) -> None:
    source = imports.source_of(value)
    assert source is not None
    with pytest.raises(InvalidInput) as caught:
        imports.parse_conversation(value, source, now=NOW)
    assert words in caught.value.detail


def test_an_absurdly_deep_branch_is_refused() -> None:
    depth = common.MAX_BRANCH_NODES + 5
    nodes_ = {f"n{i}": {"id": f"n{i}", "parent": f"n{i - 1}" if i else None,
                        "message": None} for i in range(depth)}
    with pytest.raises(InvalidInput, match="more than 50,000 messages deep"):
        chatgpt.parse_conversation({"mapping": nodes_, "current_node": f"n{depth - 1}"},
                                   now=NOW)


def test_huge_text_is_cut_with_a_note_and_nul_is_replaced() -> None:
    chat = owui_chat()
    history(chat)["a3"]["content"] = "x" * (common.MAX_TEXT_CHARS + 10) + "\x00"
    history(chat)["u1"]["content"] = "nul:\x00"
    parsed = openwebui.parse_chat(chat, now=NOW)
    last = parsed.messages[-1].parts[0]["text"]
    assert last.startswith("x" * 1000) and len(last) < common.MAX_TEXT_CHARS + 200
    assert "the original has 1,000,011 characters" in last
    assert parsed.messages[0].parts[0]["text"] == "nul:\ufffd"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, (*prefix, i))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.sampled_from(["openwebui", "chatgpt"]), junk=JSON)
def test_any_mangled_conversation_is_parsed_or_refused_clearly(
    data: st.DataObject, which: str, junk: Any
) -> None:
    value = owui_chat() if which == "openwebui" else gpt_conversation()
    where = data.draw(st.sampled_from(paths(value)[1:]))
    target = value
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = copy.deepcopy(junk)
    source = imports.source_of(value)
    try:
        parsed = imports.parse_conversation(value, source, now=NOW)
    except InvalidInput as exc:
        assert exc.detail
        return
    assert isinstance(parsed, ParsedConversation)
    json.dumps([m.parts for m in parsed.messages])  # what the store writes


# --- the streaming reader ----------------------------------------------------------------------

def items_of(body: bytes) -> tuple[bool, list[Any]]:
    reader = streaming.JsonItems(ijson.basic_parse(body, use_float=True))
    return reader.is_list, list(reader)


def test_a_list_streams_item_by_item_and_an_object_is_one_item() -> None:
    body = json.dumps([{"a": [1, 2.5, None, True, {"b": "c"}]}, "x", [], {}]).encode()
    assert items_of(body) == (True, [{"a": [1, 2.5, None, True, {"b": "c"}]}, "x", [], {}])
    assert items_of(b'{"k": {"j": []}}') == (False, [{"k": {"j": []}}])
    assert items_of(b"7") == (False, [7])


def test_too_deep_items_are_skipped_and_the_rest_still_read() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    started = time.monotonic()
    is_list, found = items_of(b'[{"a": 1}, ' + deep + b', {"b": 2}]')
    assert time.monotonic() - started < 5  # linear, not quadratic in the depth
    assert is_list and found[0] == {"a": 1} and found[2] == {"b": 2}
    assert isinstance(found[1], streaming.TooDeep)
    assert "nested more than 500 levels" in found[1].reason
    limit = streaming.MAX_NESTING
    assert not isinstance(items_of(b"[" * limit + b"]" * limit)[1][0], streaming.TooDeep)
    assert streaming.too_deep(json.loads(b"[" * (limit + 1) + b"]" * (limit + 1)))
    assert not streaming.too_deep(json.loads(b"[" * limit + b"]" * limit))


@pytest.mark.parametrize("body", [b"", b"[1, 2", b"[1] trailing", b'{"a": }'])
def test_broken_json_is_the_parsers_error(body: bytes) -> None:
    with pytest.raises((ijson.JSONError, InvalidInput)):
        items_of(body)
