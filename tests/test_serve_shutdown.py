"""Stopping `salon serve` (SIGTERM, as a process manager does): live viewers are sent at once
to reconnect elsewhere, an answer being written gets SALON_SHUTDOWN_GRACE_SECONDS to finish and
is then stored as interrupted with what was written, and the process exits."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.test_cli import free_port, salon_env, wait_healthy


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def start(data_dir: Path, model: FakeOpenAIServer) -> tuple[str, subprocess.Popen[str]]:
    port = free_port()
    env = salon_env(data_dir, SALON_LLM_PROVIDER="openai", SALON_LLM_MODEL="fake-model",
                    SALON_LLM_BASE_URL=f"{model.url}/slow/v1", SALON_SHUTDOWN_GRACE_SECONDS="1",
                    SALON_SIGNUP_LIMIT_PER_HOUR="100")
    proc = subprocess.Popen([sys.executable, "-m", "salon", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc)
    return url, proc


async def sign_up(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/v1/auths/signup", json={
        "name": "Ada", "email": "ada@example.com", "password": "long enough pw"})
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"


def last_message_after_restart(data_dir: Path, model: FakeOpenAIServer,
                               chat_id: str) -> dict[str, Any]:
    """Start Salon again on ``data_dir``; the chat's last message as its history shows it."""
    url, proc = start(data_dir, model)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            r = http.post("/api/v1/auths/signin",
                          json={"email": "ada@example.com", "password": "long enough pw"})
            http.headers["Authorization"] = f"Bearer {r.json()['token']}"
            history = http.get("/api/chat/history", params={"conversation_id": chat_id}).json()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    last: dict[str, Any] = history["response"]["chat"][-1]
    return last


async def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """Every event (kind, data) until the stream ends."""
    events, kind = [], "message"
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[6:])))
    return events


async def stop_while_answering(url: str, proc: subprocess.Popen[str]) -> dict[str, Any]:
    """A live share watched by a viewer; a second answer is being written when the server is
    told to stop. Returns what the viewer and the chat saw, and when."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await sign_up(http)
        first = (await http.post("/api/chat", json={"q": "first", "stream": False})).json()
        chat_id = first["conversationId"]
        link = (await http.post(f"/api/v1/chats/{chat_id}/share", json={"live": True})).json()
        async with httpx.AsyncClient(base_url=url, timeout=30) as viewer, \
                viewer.stream("GET", f"/s/{link['share_id']}/events") as watching, \
                http.stream("POST", "/api/chat",
                            json={"q": "second", "conversation_id": chat_id},
                            headers={"Accept": "text/event-stream"}) as chatting:
            lines = chatting.aiter_lines()
            async for line in lines:  # the answer is being written
                if line.startswith("data: ") and json.loads(line[6:])["type"] == "message":
                    break
            stopped_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            seen = await asyncio.wait_for(sse_events(watching), 10)
            viewer_done = time.monotonic() - stopped_at
            rest = [json.loads(line[6:]) async for line in lines if line.startswith("data: ")]
            chat_done = time.monotonic() - stopped_at
    return {"chat_id": chat_id, "viewer": seen, "viewer_after": viewer_done, "chat": rest,
            "chat_after": chat_done}


def test_sigterm_sends_viewers_away_and_stores_the_interrupted_answer(
    tmp_path: Path, model: FakeOpenAIServer
) -> None:
    url, proc = start(tmp_path / "data", model)
    try:
        seen = asyncio.run(stop_while_answering(url, proc))
        output = proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # A clean stop; uvicorn then re-raises the signal it caught, as the process's exit status.
    assert proc.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in output
    kinds = [kind for kind, _ in seen["viewer"]]
    assert kinds[-1] == "reload", seen["viewer"]
    assert "restarting" in seen["viewer"][-1][1]["detail"]
    # The answer (30 words, one every 100 ms) could not finish within the 1 s grace: it ended
    # as interrupted, its response complete (not cut off), before the server exited.
    end = seen["chat"][-1]
    assert end["type"] == "end_response" and end["data"]["status"] == "interrupted"
    assert any(e["type"] == "status" and "restarting" in e["data"] for e in seen["chat"])
    assert seen["viewer_after"] < seen["chat_after"]  # viewers were sent away first
    answer = last_message_after_restart(tmp_path / "data", model, seen["chat_id"])
    assert answer["status"] == "interrupted"
    assert answer["message"].startswith("Echo: second")


async def kill_while_answering(url: str, proc: subprocess.Popen[str]) -> str:
    """An answer being written for more than a second when the server is killed (SIGKILL):
    returns its chat's id."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await sign_up(http)
        chat_id, words = "", 0
        with pytest.raises(httpx.TransportError):
            async with http.stream("POST", "/api/chat", json={"q": "keep me"},
                                   headers={"Accept": "text/event-stream"}) as chatting:
                async for line in chatting.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    event = json.loads(line[6:])
                    if event["type"] == "metadata":
                        chat_id = event["data"]["conversationId"]
                    words += event["type"] == "message"
                    if words == 15:  # 1.5 s in: the journal holds the first second or more
                        proc.kill()
    return chat_id


def test_an_answer_cut_by_kill_9_is_stored_as_interrupted_at_the_next_start(
    tmp_path: Path, model: FakeOpenAIServer
) -> None:
    url, proc = start(tmp_path / "data", model)
    try:
        chat_id = asyncio.run(kill_while_answering(url, proc))
    finally:
        proc.kill()
        proc.communicate(timeout=20)
    answer = last_message_after_restart(tmp_path / "data", model, chat_id)
    assert answer["by"] == "khoj" and answer["status"] == "interrupted"
    assert answer["message"].startswith("Echo: keep me")  # what was written before the kill
    assert not list((tmp_path / "data" / "answers").glob("*.json"))
