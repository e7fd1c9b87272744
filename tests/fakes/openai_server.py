"""A fake OpenAI-compatible model server: real HTTP, real SSE, deterministic answers.

In tests::

    with FakeOpenAIServer() as server:
        settings = Settings(llm_base_url=f"{server.url}/v1", llm_model="fake-model")
        ...
        assert server.requests[-1]["messages"][0]["role"] == "system"

As a process (browser tests)::

    python -m tests.fakes.openai_server --port 8765

The path prefix before ``/v1`` picks the behaviour, so one server serves every mode:

==================  ====================================================================
``/v1``             streams "Echo: <last user message text>", one chunk per word
``/slow/v1``        the same, at least 30 words (the echo repeated), 100 ms between chunks
``/thinking/v1``    ``reasoning_content`` deltas "Thinking about it." before the text
``/fail-401/v1``    401 with an OpenAI error body that echoes the bearer token it got
``/fail-500/v1``    500 with an OpenAI error body holding internal details and the token
``/hang/v1``        accepts the request and sends nothing for 60 s
``/malformed/v1``   200 ``text/event-stream`` whose one event is ``data: {not json``
``/truncated/v1``   two text chunks, then the body ends: no finish_reason, no ``[DONE]``
``/no-models/v1``   like ``/v1`` but ``GET /models`` lists no model
``/gated/v1``       like ``/v1``, but the answer waits for a release before its first word
                    and again before it finishes (its first word comes late, or at once
                    when released beforehand)
``/gated-each/v1`` the same, but each word waits for a release, then the finish
``/mermaid/v1``     answers a valid Mermaid flowchart in a ```mermaid block (``MERMAID``)
``/mermaid-broken/v1``  an unbalanced one (``BROKEN_MERMAID``) unless the request already
                    holds an assistant reply with a ```mermaid block (a retry): then
                    ``MERMAID``
``/mermaid-click/v1``   always a flowchart with a ``click`` callback (``CLICK_MERMAID``)
``/mermaid-html/v1``    always a flowchart with an HTML label (``HTML_MERMAID``)
==================  ====================================================================

Images (``POST [/<mode>]/v1/images/generations``, OpenAI's shape; ``image_requests`` records
the bodies): with ``"response_format": "url"`` the answer is a URL on this server
(``/files/image.png``), else ``b64_json``; the image is ``PNG`` (1x1), or, when the model is
``TEXT_IMAGE_MODEL``, a text body that is no image (``/files/not-an-image``); the model
``HANG_IMAGE_MODEL`` gets no answer until the client leaves (as ``/hang``). Plain files for
the web fetcher's tests: ``GET /files/image.png``, ``/files/not-an-image``,
``/files/redirect?to=URL`` (302), ``/files/big?size=N`` (N bytes, streamed in 64 KiB pieces,
no Content-Length), ``/files/slow`` (one byte, then nothing until the client leaves).

``POST /release`` lets one wait of a ``/gated/v1`` answer go on, now or (no answer waiting)
the next one (``FakeOpenAIServer.release()`` in the tests' own process). A wait also ends
when the client leaves, the server stops or ``HANG_SECONDS`` pass.

``GET <prefix>/v1/models`` lists ``fake-model`` (the fail and hang modes behave as for chat).
Non-streaming requests (``"stream": false``) get a ``chat.completion`` JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL_ID = "fake-model"
MODES = frozenset(
    {"", "slow", "thinking", "fail-401", "fail-500", "hang", "malformed", "truncated", "no-models",
     "gated", "gated-each", "mermaid", "mermaid-broken", "mermaid-click", "mermaid-html"}
)
MERMAID = 'flowchart TD\n  Q["Question"] --> A["Answer"]\n  A --> S["Share <&> page"]'
BROKEN_MERMAID = 'flowchart TD\n  Q["Question"] --> A["Answer"\n  A --> S'
CLICK_MERMAID = 'flowchart TD\n  A["Start"] --> B["End"]\n  click A callback "Tip"'
HTML_MERMAID = 'flowchart TD\n  A["<b>Start</b>"] --> B["End"]'
_SCRIPTED_MERMAID = {"mermaid": MERMAID, "mermaid-broken": BROKEN_MERMAID,
                     "mermaid-click": CLICK_MERMAID, "mermaid-html": HTML_MERMAID}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
NOT_AN_IMAGE = b"<html>Not an image</html>"
TEXT_IMAGE_MODEL = "fake-image-text"
HANG_IMAGE_MODEL = "fake-image-hang"
THOUGHT = "Thinking about it."
SLOW_MIN_WORDS = 30
SLOW_DELAY_SECONDS = 0.1
HANG_SECONDS = 60.0


class FakeOpenAIServer:
    """Serves the fake API on ``host:port`` (port 0: a free one) from a background thread.

    ``url`` is ``http://host:port`` (no ``/v1``: add a mode prefix). ``requests`` holds every
    JSON body POSTed to chat completions, oldest first; ``request_headers`` the matching headers.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.image_requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self._stopping = threading.Event()
        self._releases = threading.Semaphore(0)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        self._server = uvicorn.Server(_uvicorn_config(create_app(self)))
        self._thread: threading.Thread | None = None

    @property
    def last_request(self) -> dict[str, Any]:
        return self.requests[-1]

    def is_stopping(self) -> bool:
        return self._stopping.is_set()

    def release(self) -> None:
        """Let one wait of a gated answer go on (see the module's docstring)."""
        self._releases.release()

    def take_release(self) -> bool:
        """Use up one release if there is one."""
        return self._releases.acquire(blocking=False)

    def record(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.requests.append(body)
        self.request_headers.append(headers)

    def start(self) -> FakeOpenAIServer:
        """Start serving; returns once the server accepts connections (or raises)."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving; requests still hanging are ended first, so this takes well under 5 s."""
        self._stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM (the standalone process)."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._stopping.set()
            self._socket.close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _uvicorn_config(app: Starlette) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        loop="asyncio",
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )


def create_app(server: FakeOpenAIServer) -> Starlette:
    """The ASGI app; ``server`` receives the recorded requests and says when to stop hanging."""

    async def chat(request: Request) -> Response:
        mode = request.path_params.get("mode", "")
        if mode not in MODES:
            return _error(404, f"Unknown fake mode {mode!r}.")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "The body is not JSON.")
        server.record(body, dict(request.headers))
        return await _chat_response(mode, body, request, server)

    async def models(request: Request) -> Response:
        mode = request.path_params.get("mode", "")
        if mode not in MODES:
            return _error(404, f"Unknown fake mode {mode!r}.")
        failure = await _failure(mode, request, server)
        if failure is not None:
            return failure
        listed = [] if mode == "no-models" else [_model_entry()]
        return JSONResponse({"object": "list", "data": listed})

    async def release(request: Request) -> Response:
        server.release()
        return JSONResponse({"released": 1})

    async def images(request: Request) -> Response:
        body = await request.json()
        server.image_requests.append(body)
        if body.get("model") == HANG_IMAGE_MODEL:
            await _hang(request, server)
            return _error(504, "Hung for too long.", kind="server_error")
        text = body.get("model") == TEXT_IMAGE_MODEL
        if body.get("response_format") == "url":
            name = "not-an-image" if text else "image.png"
            return JSONResponse({"created": 0, "data": [{"url": f"{server.url}/files/{name}"}]})
        data = base64.b64encode(NOT_AN_IMAGE if text else PNG).decode()
        return JSONResponse({"created": 0, "data": [{"b64_json": data}]})

    return Starlette(
        routes=[
            Route("/release", release, methods=["POST"]),
            Route("/v1/images/generations", images, methods=["POST"]),
            Route("/{mode}/v1/images/generations", images, methods=["POST"]),
            Route("/files/{name}", _file, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/{mode}/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/{mode}/v1/models", models, methods=["GET"]),
        ]
    )


async def _chat_response(
    mode: str, body: dict[str, Any], request: Request, server: FakeOpenAIServer
) -> Response:
    failure = await _failure(mode, request, server)
    if failure is not None:
        return failure
    if mode == "malformed":
        return StreamingResponse(_once("data: {not json\n\n"), media_type="text/event-stream")
    answer = _Answer.for_request(mode, body)
    if not body.get("stream"):
        return JSONResponse(answer.completion())
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events = answer.truncated_events() if mode == "truncated" else answer.events(include_usage)
    if mode in ("gated", "gated-each"):  # after the role: before the first word (each word)
        last = 1 + len(answer.words)  # and before the finish
        waits = {1, last} if mode == "gated" else set(range(1, last + 1))
        return StreamingResponse(_gated(events, waits, server), media_type="text/event-stream")
    delay = SLOW_DELAY_SECONDS if mode == "slow" else 0.0
    return StreamingResponse(_paced(events, delay), media_type="text/event-stream")


async def _failure(mode: str, request: Request, server: FakeOpenAIServer) -> Response | None:
    if mode == "fail-401":
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return _error(401, f"Incorrect API key provided: {token}.", code="invalid_api_key")
    if mode == "fail-500":  # with internal details and the token, as some servers do
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return _error(500, f"The fake server failed: secret internal detail {token}",
                      kind="server_error")
    if mode == "hang":
        await _hang(request, server)
        return _error(504, "Hung for too long.", kind="server_error")
    return None


async def _hang(request: Request, server: FakeOpenAIServer) -> None:
    """Send nothing until the client leaves, the server stops or HANG_SECONDS pass."""
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline and not server.is_stopping():
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)


def _error(
    status: int, message: str, *, kind: str = "invalid_request_error", code: str | None = None
) -> JSONResponse:
    error = {"message": message, "type": kind, "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=status)


@dataclass(frozen=True)
class _Answer:
    """What the fake model says to one request, and the wire formats to say it in."""

    model: str
    words: tuple[str, ...]
    thought: tuple[str, ...]
    prompt_tokens: int
    completion_id: str
    created: int

    @classmethod
    def for_request(cls, mode: str, body: dict[str, Any]) -> _Answer:
        messages = body.get("messages") or []
        words = f"Echo: {_last_user_text(messages)}".split()
        if mode in _SCRIPTED_MERMAID:  # split on spaces only: the newlines stay
            words = f"```mermaid\n{_mermaid_for(mode, messages)}\n```".split(" ")
        while mode == "slow" and len(words) < SLOW_MIN_WORDS:
            words += words
        return cls(
            model=str(body.get("model") or MODEL_ID),
            words=tuple(words),
            thought=tuple(THOUGHT.split()) if mode == "thinking" else (),
            prompt_tokens=sum(len(_text_of(m.get("content")).split()) for m in messages),
            completion_id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
            created=int(time.time()),
        )

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def usage(self) -> dict[str, int]:
        completion = len(self.words) + len(self.thought)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def events(self, include_usage: bool) -> Iterator[str]:
        """OpenAI's exact sequence: role, deltas, finish, usage (if asked), ``[DONE]``."""
        usage_field = {"usage": None} if include_usage else {}
        yield self._event({"role": "assistant", "content": "", "refusal": None}, **usage_field)
        for piece in _pieces(self.thought):
            yield self._event({"content": None, "reasoning_content": piece}, **usage_field)
        for piece in _pieces(self.words):
            yield self._event({"content": piece}, **usage_field)
        yield self._event({}, finish_reason="stop", **usage_field)
        if include_usage:
            yield self._sse(self._envelope([], usage=self.usage))
        yield "data: [DONE]\n\n"

    def truncated_events(self) -> Iterator[str]:
        for piece in _pieces(self.words)[:2]:
            yield self._event({"content": piece})

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text, "refusal": None}
        if self.thought:
            message["reasoning_content"] = " ".join(self.thought)
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        envelope = self._envelope([choice], usage=self.usage)
        return envelope | {"object": "chat.completion"}

    def _event(self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._sse(self._envelope([choice], **extra))

    def _envelope(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": choices,
        } | extra

    @staticmethod
    def _sse(payload: dict[str, Any]) -> str:
        return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def _pieces(words: tuple[str, ...]) -> list[str]:
    """Words as streamed: every word after the first carries its leading space."""
    return [word if i == 0 else f" {word}" for i, word in enumerate(words)]


def _mermaid_for(mode: str, messages: list[dict[str, Any]]) -> str:
    retry = any(m.get("role") == "assistant" and "```mermaid" in _text_of(m.get("content"))
                for m in messages)
    return MERMAID if mode == "mermaid-broken" and retry else _SCRIPTED_MERMAID[mode]


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _text_of(content: Any) -> str:
    """A message's text: string content, or its ``text`` parts joined with spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return " ".join(str(part.get("text", "")) for part in parts)
    return ""


def _model_entry() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "salon-tests"}


async def _once(text: str) -> AsyncIterator[str]:
    yield text


async def _paced(events: Iterator[str], delay: float) -> AsyncIterator[str]:
    for index, event in enumerate(events):
        if index and delay:
            await asyncio.sleep(delay)
        yield event


async def _gated(
    events: Iterator[str], waits: set[int], server: FakeOpenAIServer
) -> AsyncIterator[str]:
    """``events``, waiting for a release before each event whose index is in ``waits``
    (a client that leaves cancels the response, so the wait with it)."""
    for index, event in enumerate(events):
        if index in waits:
            deadline = time.monotonic() + HANG_SECONDS
            while not server.take_release() and not server.is_stopping():
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(0.02)
        yield event


async def _file(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "image.png":
        return Response(PNG, media_type="image/png")
    if name == "not-an-image":
        return Response(NOT_AN_IMAGE, media_type="image/png")
    if name == "redirect":
        return Response(status_code=302, headers={"Location": request.query_params["to"]})
    if name == "big":
        size = int(request.query_params["size"])
        pieces = [b"x" * 65536] * (size // 65536) + [b"x" * (size % 65536)]
        return StreamingResponse(_once_each(pieces), media_type="application/octet-stream")
    if name == "slow":
        return StreamingResponse(_slow_body(request), media_type="application/octet-stream")
    return Response(status_code=404)


async def _once_each(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _slow_body(request: Request) -> AsyncIterator[bytes]:
    yield b"x"
    deadline = time.monotonic() + HANG_SECONDS
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server for Salon tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(host=args.host, port=args.port)
    print(f"Fake OpenAI server listening on {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
