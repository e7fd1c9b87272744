"""Conversations to export: every part type, and hostile text in each place it can go."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from salon.domain.conversations import Conversation, Message
from tests.web.test_share_viewing_api import PNG

T0 = datetime(2025, 5, 4, 10, 0, tzinfo=UTC)
FILES = [({"id": "f-img", "name": "dot.png", "media_type": "image/png"}, PNG),
         ({"id": "f-txt", "name": "notes.txt", "media_type": "text/plain"}, b"hello")]

EVERY_PART: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    ("user", [{"type": "text", "text": "Show me **everything**"},
              {"type": "image", "file_id": "f-img", "name": "dot.png",
               "media_type": "image/png", "size": len(PNG)},
              {"type": "file", "file_id": "f-txt", "name": "notes.txt",
               "media_type": "text/plain", "size": 5}], {}),
    ("assistant", [
        {"type": "thought", "text": "Let me think."},
        {"type": "tool_call", "id": "c1", "name": "search", "arguments": {"q": "salon"},
         "result": {"hits": [1, 2]}},
        {"type": "citation", "title": "Docs", "url": "https://example.com/docs",
         "snippet": "A snippet", "source": "web"},
        {"type": "citation", "title": "More", "url": "https://example.com/more"},
        {"type": "table", "columns": ["a", "b"], "rows": [[1, "x"], [2, None]],
         "caption": "Numbers"},
        {"type": "chart", "title": "Growth",
         "spec": {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {}}},
        {"type": "code", "language": "python", "code": "print(1)", "output": "1"},
        {"type": "text", "text": "Done."},
    ], {"model": "m1", "usage": {"prompt_tokens": 10, "completion_tokens": 20,
                                 "total_tokens": 30}}),
]

LONG_CODE = "\n".join(f"x{i} = {i}  # line {i}" for i in range(5_000))
HOSTILE: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    ("user", [{"type": "text", "text": "=HYPERLINK(\"http://evil.example\",\"click\")"}], {}),
    ("assistant", [
        {"type": "text", "text": "<script>alert('x')</script><img src=https://evil.example/x>"
                                 " ![pixel](https://evil.example/p.png) مرحبا بالعالم שלום"
                                 " 你好，世界 Привет"},
        {"type": "table", "columns": ["pipe|col", "b"],
         "rows": [["a|b", "c\\|d"], ["line\nbreak", "-1"]]},
        {"type": "image", "url": "https://evil.example/remote.png", "alt": "remote"},
        {"type": "code", "language": "py`thon\n<b>", "code": "```\nno escape\n```\n" + LONG_CODE},
        {"type": "citation", "title": "x](javascript:alert(1)", "url": "javascript:alert(1)"},
        {"type": "tool_call", "name": "</summary><script>", "arguments": "not json"},
    ], {"model": "@evil"}),
    ("user", [{"type": "text", "text": "+1"}, {"type": "code", "code": "-2"}], {}),
    ("user", [{"type": "text", "text": "\tcmd"}], {}),
]


def conversation(title: str = "Every part <b>bold</b> & more") -> Conversation:
    return Conversation(id="c1", user_id="u1", title=title, slug="every-part",
                        agent_slug="default", recipe={}, file_filters=[], created_at=T0,
                        updated_at=T0)


def messages(spec: list[tuple[str, list[dict[str, Any]], dict[str, Any]]]) -> list[Message]:
    return [Message(id=f"m{i}", conversation_id="c1", seq=i, role=role,  # type: ignore[arg-type]
                    parts=parts, created_at=T0.replace(minute=i), **extra)
            for i, (role, parts, extra) in enumerate(spec)]
