"""OpenAIProvider against the fake OpenAI-compatible server (real HTTP, real SSE)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import pytest

from salon.config import Settings
from salon.llm.base import (
    LLM_AUTH_FAILED,
    LLM_BAD_RESPONSE,
    LLM_TIMEOUT,
    LLM_UNAVAILABLE,
    ChatMessage,
    Chunk,
    GenerationParams,
    ProviderError,
)
from salon.llm.openai import OpenAIProvider, read_completion_stream
from tests.fakes.openai_server import THOUGHT, FakeOpenAIServer

API_KEY = "sk-test-4f1c9a7e-secret"
QUESTION = [
    ChatMessage(role="system", content="You are a test."),
    ChatMessage(role="user", content="hello there"),
]


def make_settings(base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "llm_provider": "openai",
        "llm_base_url": base_url,
        "llm_model": "fake-model",
        "llm_api_key": API_KEY,
        "llm_timeout": 5.0,
    }
    return Settings(**(values | overrides))


async def ask(
    settings: Settings,
    messages: list[ChatMessage] = QUESTION,
    params: GenerationParams | None = None,
) -> list[Chunk]:
    provider = OpenAIProvider(settings)
    try:
        return [chunk async for chunk in provider.stream(messages, params or GenerationParams())]
    finally:
        await provider.aclose()


async def ask_expecting_error(settings: Settings) -> tuple[ProviderError, list[Chunk]]:
    """The error a stream ends with, and the chunks that came before it."""
    provider = OpenAIProvider(settings)
    received: list[Chunk] = []
    try:
        with pytest.raises(ProviderError) as caught:
            async for chunk in provider.stream(QUESTION, GenerationParams()):
                received.append(chunk)
    finally:
        await provider.aclose()
    return caught.value, received


def text_of(chunks: list[Chunk]) -> str:
    return "".join(chunk.text for chunk in chunks)


# --- answers ------------------------------------------------------------------------------------


async def test_streams_text_word_by_word_then_usage(fake_llm: FakeOpenAIServer) -> None:
    chunks = await ask(make_settings(f"{fake_llm.url}/v1"))
    assert text_of(chunks) == "Echo: hello there"
    assert [c.text for c in chunks if c.text] == ["Echo:", " hello", " there"]
    assert chunks[-1].usage == {"prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9}
    assert [c for c in chunks if c.usage] == [chunks[-1]]


async def test_thinking_arrives_as_thought_chunks_before_the_text(
    fake_llm: FakeOpenAIServer,
) -> None:
    chunks = await ask(make_settings(f"{fake_llm.url}/thinking/v1"))
    thoughts = [i for i, c in enumerate(chunks) if c.thought]
    texts = [i for i, c in enumerate(chunks) if c.text]
    assert "".join(c.thought for c in chunks) == THOUGHT
    assert max(thoughts) < min(texts)
    assert text_of(chunks) == "Echo: hello there"


async def test_request_body_is_what_openai_expects(fake_llm: FakeOpenAIServer) -> None:
    params = GenerationParams(max_tokens=77, temperature=0.3)
    await ask(make_settings(f"{fake_llm.url}/v1/", llm_model="my-model"), params=params)
    body = fake_llm.last_request
    assert body["model"] == "my-model"
    assert body["messages"] == [
        {"role": "system", "content": "You are a test."},
        {"role": "user", "content": "hello there"},
    ]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 77 and body["temperature"] == 0.3
    assert fake_llm.request_headers[-1]["authorization"] == f"Bearer {API_KEY}"


async def test_no_temperature_and_no_key_are_left_out(fake_llm: FakeOpenAIServer) -> None:
    await ask(make_settings(f"{fake_llm.url}/v1", llm_api_key=""))
    assert "temperature" not in fake_llm.last_request
    assert "authorization" not in fake_llm.request_headers[-1]


async def test_images_become_image_url_parts(fake_llm: FakeOpenAIServer) -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    messages = [ChatMessage(role="user", content="what is this?", images=(image,))]
    chunks = await ask(make_settings(f"{fake_llm.url}/v1"), messages)
    assert fake_llm.last_request["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": image}},
            ],
        }
    ]
    assert text_of(chunks) == "Echo: what is this?"


async def test_extra_params_are_sent_but_cannot_replace_the_essentials(
    fake_llm: FakeOpenAIServer,
) -> None:
    params = GenerationParams(extra={"top_p": 0.5, "model": "other", "stream": False})
    chunks = await ask(make_settings(f"{fake_llm.url}/v1"), params=params)
    body = fake_llm.last_request
    assert body["top_p"] == 0.5 and body["model"] == "fake-model" and body["stream"] is True
    assert text_of(chunks) == "Echo: hello there"


async def test_unset_model_is_the_first_listed_one(fake_llm: FakeOpenAIServer) -> None:
    provider = OpenAIProvider(make_settings(f"{fake_llm.url}/v1", llm_model=""))
    try:
        assert provider.name == "auto"
        chunks = [c async for c in provider.stream(QUESTION, GenerationParams())]
        assert provider.name == "fake-model"
    finally:
        await provider.aclose()
    assert fake_llm.last_request["model"] == "fake-model"
    assert text_of(chunks) == "Echo: hello there"


async def test_unset_model_and_none_listed_asks_for_the_setting(
    fake_llm: FakeOpenAIServer,
) -> None:
    error, _ = await ask_expecting_error(
        make_settings(f"{fake_llm.url}/no-models/v1", llm_model="")
    )
    assert error.code == LLM_BAD_RESPONSE and "SALON_LLM_MODEL" in error.detail


async def test_unset_model_and_no_models_route_asks_for_the_setting(
    fake_llm: FakeOpenAIServer,
) -> None:
    error, _ = await ask_expecting_error(
        make_settings(f"{fake_llm.url}/no-such-mode/v1", llm_model="")
    )
    assert error.code == LLM_BAD_RESPONSE and "SALON_LLM_MODEL" in error.detail


async def test_closing_the_stream_early_stops_reading(fake_llm: FakeOpenAIServer) -> None:
    provider = OpenAIProvider(make_settings(f"{fake_llm.url}/slow/v1"))
    started = time.monotonic()
    stream = cast(AsyncGenerator[Chunk, None], provider.stream(QUESTION, GenerationParams()))
    try:
        first = [await anext(stream) for _ in range(3)]
        await stream.aclose()
    finally:
        await provider.aclose()
    assert text_of(first) == "Echo: hello there"
    assert time.monotonic() - started < 2  # the whole slow answer takes over 3 s


def test_base_url_is_required() -> None:
    with pytest.raises(ValueError, match="SALON_LLM_BASE_URL"):
        OpenAIProvider(make_settings(""))
    with pytest.raises(ValueError, match="SALON_LLM_BASE_URL"):
        OpenAIProvider(make_settings("localhost:11434/v1"))


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("/fail-401", LLM_AUTH_FAILED),
        ("/fail-500", LLM_UNAVAILABLE),
        ("/malformed", LLM_BAD_RESPONSE),
        ("/truncated", LLM_BAD_RESPONSE),
        ("/hang", LLM_TIMEOUT),
        ("/no-such-mode", LLM_BAD_RESPONSE),
    ],
)
async def test_failures_map_to_codes_and_never_show_the_key(
    fake_llm: FakeOpenAIServer, mode: str, code: str
) -> None:
    started = time.monotonic()
    error, _ = await ask_expecting_error(make_settings(f"{fake_llm.url}{mode}/v1", llm_timeout=1))
    assert error.code == code
    assert API_KEY not in error.detail and API_KEY not in str(error)
    assert time.monotonic() - started < 4


async def test_auth_failure_logs_the_servers_message_redacted(
    fake_llm: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="salon.llm.openai"):
        error, _ = await ask_expecting_error(make_settings(f"{fake_llm.url}/fail-401/v1"))
    assert error.detail == ("The model server refused the credentials (HTTP 401); "
                            "check SALON_LLM_API_KEY.")
    # The fake echoes the bearer token back, as some servers do: logged, redacted.
    assert "Incorrect API key provided: ***" in caplog.text and API_KEY not in caplog.text


async def test_unexpected_4xx_logs_the_servers_message(
    fake_llm: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="salon.llm.openai"):
        error, _ = await ask_expecting_error(make_settings(f"{fake_llm.url}/no-such-mode/v1"))
    assert error.detail == "The model server rejected the request (HTTP 404)."
    assert "Unknown fake mode" in caplog.text


async def test_a_server_error_says_salons_sentence_and_logs_the_rest(
    fake_llm: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="salon.llm.openai"):
        error, _ = await ask_expecting_error(make_settings(f"{fake_llm.url}/fail-500/v1"))
    assert error.detail == "The model server is unavailable (HTTP 500)."
    assert "secret internal detail ***" in caplog.text and API_KEY not in caplog.text


async def test_truncated_stream_fails_after_the_partial_text(fake_llm: FakeOpenAIServer) -> None:
    error, received = await ask_expecting_error(make_settings(f"{fake_llm.url}/truncated/v1"))
    assert text_of(received) == "Echo: hello"
    assert "ended" in error.detail


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error, _ = await ask_expecting_error(make_settings(f"http://127.0.0.1:{port}/v1"))
    assert error.code == LLM_UNAVAILABLE
    assert f"127.0.0.1:{port}" not in error.detail  # users never learn internal addresses


async def test_unknown_host_is_unavailable() -> None:
    error, _ = await ask_expecting_error(make_settings("http://salon-no-such-host.invalid/v1"))
    assert error.code == LLM_UNAVAILABLE


async def test_credentials_in_the_base_url_stay_out_of_messages() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error, _ = await ask_expecting_error(make_settings(f"http://admin:hunter2@127.0.0.1:{port}/v1"))
    assert error.code == LLM_UNAVAILABLE and "hunter2" not in error.detail


# --- the stream parser, for what the fake server does not send ---------------------------------


async def lines_of(text: str) -> AsyncIterator[str]:
    for line in text.split("\n"):
        yield line


async def parse(text: str) -> list[Chunk]:
    return [chunk async for chunk in read_completion_stream(lines_of(text), redact=str)]


def event(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return f"data: {json.dumps({'choices': [choice]})}\n\n"


async def test_parser_accepts_ollama_reasoning_and_comments() -> None:
    text = ": keep-alive\n\n" + event({"reasoning": "hmm"}) + event({"content": "ok"}, "stop")
    chunks = await parse(text + "data: [DONE]\n\n")
    assert chunks == [Chunk(thought="hmm"), Chunk(text="ok")]


async def test_parser_accepts_a_finished_stream_without_done() -> None:
    chunks = await parse(event({"content": "ok"}) + event({}, "length"))
    assert text_of(chunks) == "ok"


async def test_parser_reads_usage_inside_the_last_choice_chunk() -> None:
    usage = '{"prompt_tokens": 4, "completion_tokens": 2}'
    text = 'data: {"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": ' + usage + "}\n\n"
    chunks = await parse(text + "data: [DONE]\n\n")
    assert chunks == [Chunk(usage={"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6})]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("<html><body>Bad gateway</body></html>\n", "did not send an event stream"),
        ('error: {"message": "model crashed"}\n\n', "reported an error"),
        ('data: {"error": {"message": "out of memory"}}\n\n', "reported an error"),
        ("data: [1, 2]\n\n", "malformed"),
        ("", "ended"),
    ],
)
async def test_parser_rejects_what_is_not_an_answer_stream(body: str, fragment: str) -> None:
    with pytest.raises(ProviderError) as caught:
        await parse(body)
    assert caught.value.code == LLM_BAD_RESPONSE and fragment in caught.value.detail
    assert not any(said in caught.value.detail for said in ("html", "crashed", "memory"))
