"""The embedded model behind a real `salon` server process: when the model's own process dies
mid-answer, the user gets a clear error, the server stays healthy, and the next chat answers."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from salon.config import Settings
from tests.browser.conftest import SalonServer
from tests.llm.local_model import require_local_model

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="module")
def local_salon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalonServer]:
    require_local_model(Settings(env="test"))
    server = SalonServer(data_dir=tmp_path_factory.mktemp("salon"), llm_base_url="",
                         env={"SALON_LLM_PROVIDER": "local", "SALON_MAX_ANSWER_TOKENS": "400"})
    try:
        yield server.start()
    finally:
        server.stop()


def model_processes(server_pid: int) -> list[int]:
    """The server's children that run the embedded model."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == server_pid and b"salon.llm.local_worker" in cmdline:
            found.append(int(stat.parent.name))
    return found


def chat(http: httpx.Client, q: str, *, kill_after_first_words: int | None = None,
         ) -> list[dict[str, Any]]:
    """The chat's events; with a server pid, the model's process is killed (SIGILL, as a CPU
    that cannot run its instructions would) once the first words arrived."""
    events = []
    with http.stream("POST", "/api/chat", json={"q": q},
                     headers={"Accept": "text/event-stream"}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(json.loads(line[6:]))
            if kill_after_first_words and events[-1]["type"] == "message":
                for pid in model_processes(kill_after_first_words):
                    os.kill(pid, signal.SIGILL)
                kill_after_first_words = None
    return events


def test_a_dying_model_is_an_error_message_and_the_server_carries_on(
    local_salon: SalonServer,
) -> None:
    assert local_salon.proc is not None
    with httpx.Client(base_url=local_salon.url, timeout=120) as http:
        r = http.post("/api/v1/auths/signup", json={"name": "Ada", "email": "ada@example.com",
                                                    "password": "long enough pw"})
        http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        assert http.get("/healthz").json()["model"]["status"] == "not_loaded"

        events = chat(http, "Write a long story about a cat.",
                      kill_after_first_words=local_salon.proc.pid)
        error = next(e["data"] for e in events if e["type"] == "error")
        assert error["code"] == "LOCAL_MODEL_FAILED"
        assert "SIGILL" in error["detail"] and "make model" in error["detail"]
        assert events[-1]["type"] == "end_response" and events[-1]["data"]["status"] == "error"
        conversation = events[0]["data"]["conversationId"]
        stored = http.get("/api/chat/history", params={"conversation_id": conversation})
        last = stored.json()["response"]["chat"][-1]
        assert last["status"] == "error" and error["detail"] in last["message"]

        health = http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.json()["model"]["status"] == "degraded"
        assert local_salon.proc.poll() is None  # the server itself never died

        events = chat(http, "What is the capital of France?")
        assert [e for e in events if e["type"] == "message"]
        assert not [e for e in events if e["type"] == "error"]
        assert http.get("/healthz").json()["model"]["status"] == "ok"
        assert len(model_processes(local_salon.proc.pid)) == 1
