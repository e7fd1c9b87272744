"""An answer a killed process was writing, stored as interrupted at the next start, is announced
to live viewers like any stored answer: they fetch it, and its words so far (kept by the live
hub for viewers who arrive mid-answer) are no longer offered."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from salon.services.answers import recover_interrupted_answers
from salon.services.context import AppContext
from salon.services.live import LiveEvent
from tests.factories import UserClient


def gone_process() -> int:
    """The id of a process that ran and ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


async def test_a_recovered_answer_ends_its_words_for_live_viewers(
    app: Any, alice: UserClient
) -> None:
    ctx: AppContext = app.state.ctx
    r = await alice.http.post("/api/chat", json={"q": "Plan the trip", "stream": False})
    chat_id = r.json()["conversationId"]
    # A process now gone was writing the next answer: its journal entry, its words so far.
    ctx.answer_journal.save(turn_id="t-gone", conversation_id=chat_id, user_id=alice.id,
                            model="fake-model", text="Echo: half", thought="")
    entry = ctx.answer_journal.folder / "t-gone.json"
    entry.write_text(json.dumps(json.loads(entry.read_text()) | {"pid": gone_process()}))
    ctx.live.publish(chat_id, "token", {"turn_id": "t-gone", "text": "Echo: half"})

    async with ctx.live.subscribe(chat_id) as watching:
        assert [e.data["text"] for e in watching.backlog] == ["Echo: half"]
        assert await recover_interrupted_answers(ctx) == 1
        stored: LiveEvent = watching.watcher.queue.get_nowait()
    assert stored.kind == "turn"
    assert stored.data == {"seq": 2, "title": "Plan the trip", "turn_id": "t-gone"}
    async with ctx.live.subscribe(chat_id) as later:
        assert later.backlog == []
