"""ChatGPT's ``conversations.json`` (Settings > Data controls > Export): a list of

    {"title", "create_time", "update_time", "current_node": "n3",
     "mapping": {"n1": {"id", "parent", "children": [...],
                        "message": {"author": {"role", "name"}, "create_time", "recipient",
                                    "content": {"content_type", "parts", "text", ...},
                                    "metadata": {"model_slug", ...}}}}}

A conversation is a tree (edits and regenerations branch it); Salon keeps the branch the user
was on, from ``current_node`` up the ``parent`` links. Nodes without a message, hidden ones
(system prompts, custom instructions) and empty ones are left out. Code becomes a code part
whose output is what the tool printed; other tool results become a tool call. Images are not in
this file (only pointers to ChatGPT's storage), so a note says which were left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from salon.domain.conversations import Role
from salon.domain.errors import InvalidInput
from salon.domain.imports import common
from salon.domain.imports.transcript import Draft, Transcript
from salon.domain.salon_json import ParsedConversation

ROLES = ("user", "assistant", "system", "tool")
# Bookkeeping the ChatGPT page never shows: memory, custom instructions, "Thought for 5s".
SILENT_CONTENT = frozenset({"user_editable_context", "model_editable_context",
                            "reasoning_recap"})


def is_conversation(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("mapping"), Mapping)


def parse_conversation(value: object, *, now: datetime) -> ParsedConversation:
    conv = common.mapping(value, "conversation")
    nodes = common.mapping(conv.get("mapping"), "conversation.mapping")
    transcript = Transcript()
    if nodes:
        leaf = conv.get("current_node") or common.latest_leaf(
            nodes, children_of=lambda n: n.get("children"), time_of=_create_time)
        for node_id in common.current_branch(nodes, leaf, parent_of=lambda n: n.get("parent"),
                                             where="conversation.mapping"):
            _add_node(transcript, node_id, nodes[node_id],
                      f"conversation.mapping[{node_id[:80]!r}]")
    return transcript.parsed(
        title=common.title(conv.get("title"), "conversation.title"),
        created_at=common.moment(conv.get("create_time"), "conversation.create_time"),
        updated_at=common.moment(conv.get("update_time"), "conversation.update_time"),
        now=now, fingerprint=common.fingerprint(conv))


def _create_time(node: Mapping[str, Any]) -> object:
    message = node.get("message")
    return message.get("create_time") if isinstance(message, Mapping) else None


def _add_node(transcript: Transcript, node_id: str, node: Mapping[str, Any], where: str) -> None:
    if node.get("message") is None:
        return
    where = f"{where}.message"
    m = common.mapping(node["message"], where)
    author = common.optional_mapping(m.get("author"), f"{where}.author")
    metadata = common.optional_mapping(m.get("metadata"), f"{where}.metadata")
    content = common.optional_mapping(m.get("content"), f"{where}.content")
    role = author.get("role")
    if role not in ROLES:
        raise InvalidInput(f"{where}.author.role must be one of {', '.join(ROLES)}.")
    kind = common.name(content.get("content_type"), f"{where}.content.content_type")
    if metadata.get("is_visually_hidden_from_conversation") is True or kind in SILENT_CONTENT:
        return
    created = common.moment(m.get("create_time"), f"{where}.create_time")
    if role == "tool" or kind == "execution_output":
        _add_tool_result(transcript, node_id, author, content, created, f"{where}.content")
        return
    recipient = m.get("recipient")
    if role == "assistant" and isinstance(recipient, str) and recipient != "all" \
            and kind == "text":  # the model calling a tool (a search, an image...)
        arguments = _plain(_parts(content, f"{where}.content"))
        parts = [{"type": "tool_call", "id": node_id[:200], "name": recipient[:200],
                  "arguments": arguments}]
    else:
        parts = _parts(content, f"{where}.content")
    if parts:
        transcript.add(Draft(role=cast(Role, role), parts=parts, created_at=created,
                             model=common.name(metadata.get("model_slug"),
                                               f"{where}.metadata.model_slug")))


def _add_tool_result(
    transcript: Transcript, node_id: str, author: Mapping[str, Any],
    content: Mapping[str, Any], created: datetime | None, where: str,
) -> None:
    """A tool's answer joins the assistant message that called it: the output of its code,
    the result of its tool call, or a tool call of its own."""
    answer = transcript.last_answer()
    if answer is None:
        answer = Draft(role="assistant", parts=[], created_at=created)
        transcript.add(answer)
    last = answer.parts[-1] if answer.parts else {}
    if content.get("content_type") == "execution_output":
        output = common.text(content.get("text"), f"{where}.text")
        if last.get("type") == "code" and "output" not in last:
            last["output"] = output
        else:
            answer.parts.append({"type": "code", "code": "", "output": output})
        return
    tool = common.name(author.get("name"), f"{where}.author.name") or "tool"
    result = _plain(_parts(content, where))
    if last.get("type") == "tool_call" and last.get("name") == tool and "result" not in last:
        last["result"] = result
    else:
        answer.parts.append({"type": "tool_call", "id": node_id[:200], "name": tool,
                             "result": result})


def _plain(parts: list[dict[str, Any]]) -> str:
    return "\n\n".join(p.get("text") or p.get("code") or "" for p in parts)


def _parts(content: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    kind = content.get("content_type")
    if kind == "code":
        return _code(content, where)
    if kind == "tether_quote":
        return [{"type": "citation", **{k: common.text(content.get(key), f"{where}.{key}")
                                        for k, key in (("title", "title"), ("url", "url"),
                                                       ("snippet", "text"))}}]
    if kind == "thoughts":
        return _thoughts(content, where)
    if kind == "tether_browsing_display":
        return _texts([content.get("result")], f"{where}.result")
    if kind == "system_error":
        return [{"type": "text", "text": "[error: " + common.text(content.get("text"),
                                                                 f"{where}.text") + "]"}]
    if "parts" in content:
        return _texts(common.items(content.get("parts"), f"{where}.parts"), f"{where}.parts")
    if isinstance(content.get("text"), str):
        return _texts([content["text"]], f"{where}.text")
    return [] if kind is None else [{"type": "text",
                                     "text": f"[{str(kind)[:80]} not included]"}]


def _code(content: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    code = common.text(content.get("text"), f"{where}.text")
    if not code.strip():
        return []
    part: dict[str, Any] = {"type": "code", "code": code}
    language = common.name(content.get("language"), f"{where}.language")
    if language and language != "unknown":
        part["language"] = language
    return [part]


def _thoughts(content: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    parts = []
    for i, item in enumerate(common.items(content.get("thoughts"), f"{where}.thoughts")):
        thought = common.mapping(item, f"{where}.thoughts[{i}]")
        words = "\n\n".join(
            common.text(thought.get(key), f"{where}.thoughts[{i}].{key}")
            for key in ("summary", "content") if thought.get(key))
        if words.strip():
            parts.append({"type": "thought", "text": words})
    return parts


def _texts(items: list[Any], where: str) -> list[dict[str, Any]]:
    """Strings become text; an image pointer or other attachment becomes a note naming it."""
    parts: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            said = _attachment_note(item, f"{where}[{i}]")
        else:
            said = common.text(item, f"{where}[{i}]")
        if said.strip():
            parts.append({"type": "text", "text": said})
    return parts


def _attachment_note(item: Mapping[str, Any], where: str) -> str:
    kind = item.get("content_type")
    if kind == "audio_transcription":
        return common.text(item.get("text"), f"{where}.text")
    if kind == "image_asset_pointer":
        pointer = common.name(item.get("asset_pointer"), f"{where}.asset_pointer")
        return f"[image not included: {pointer or 'no pointer'}]"
    return f"[{str(kind or 'attachment')[:80]} not included]"
