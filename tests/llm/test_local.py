"""The embedded model: finding its file, trimming history, and (when installed) real answers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from salon.config import Settings
from salon.llm.base import (
    LLM_NOT_CONFIGURED,
    LOCAL_MODEL_FAILED,
    ChatMessage,
    Chunk,
    GenerationParams,
    ProviderError,
)
from salon.llm.local import (
    LOCAL_MODEL_NAME,
    LocalProvider,
    describe_exit,
    find_local_model_file,
    is_local_model_available,
)
from salon.llm.local_worker import MESSAGE_OVERHEAD_TOKENS, fit_messages
from tests.llm.local_model import require_local_model


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


# --- explaining a crash -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (-4, "SIGILL: it ran an instruction this CPU cannot execute"),
        (-9, "SIGKILL: it was killed, most often by the system running out of memory"),
        (-11, "SIGSEGV: llama.cpp crashed"),
        (-15, "SIGTERM: run `salon doctor`"),
        (1, "exited (code 1)"),
    ],
)
def test_a_crash_is_explained_to_the_admin(code: int, expected: str) -> None:
    assert expected in describe_exit(code)


# --- the real model (skipped when llama.cpp or the weights are not installed; never in CI) -----

REAL_SETTINGS = make_settings()


class Clock:
    """A monotonic clock the test moves by hand (the crash backoff reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
async def local_provider() -> AsyncIterator[LocalProvider]:
    """The real embedded model, loaded once for the module (in its own process)."""
    require_local_model(REAL_SETTINGS)
    provider = LocalProvider(REAL_SETTINGS)
    yield provider
    await provider.aclose()


@pytest.fixture
async def fresh_provider() -> AsyncIterator[tuple[LocalProvider, Clock]]:
    """A provider of its own (these tests crash its model) with a clock the test moves."""
    require_local_model(REAL_SETTINGS)
    clock = Clock()
    provider = LocalProvider(REAL_SETTINGS, clock=clock)
    yield provider, clock
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


async def crash_mid_answer(provider: LocalProvider, signum: int) -> ProviderError:
    """Start a long answer, kill the model's process with ``signum`` after its first words, and
    return the error the reader got."""
    stream = provider.stream([msg("user", "Write a long story about a cat.")],
                             GenerationParams(max_tokens=1000))
    received = ""
    with pytest.raises(ProviderError) as caught:
        async for chunk in stream:
            if not received and chunk.text:
                pid = provider.worker_pid
                assert pid is not None and pid != os.getpid()
                os.kill(pid, signum)
            received += chunk.text
    assert received  # the words before the crash reached the reader
    return caught.value


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
    assert local_provider.health().status == "ok"


@pytest.mark.local_model
async def test_the_model_runs_in_a_child_process(local_provider: LocalProvider) -> None:
    await collect(local_provider, "Say hi.", GenerationParams(max_tokens=4))
    pid = local_provider.worker_pid
    assert pid is not None and pid != os.getpid()
    assert "salon.llm.local_worker" in Path(f"/proc/{pid}/cmdline").read_text()
    assert "llama_cpp" not in sys.modules  # the server process never loads llama.cpp


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
async def test_closing_early_stops_the_generation_in_the_worker(
    local_provider: LocalProvider,
) -> None:
    long = GenerationParams(max_tokens=1000)  # ~15 s if it ran to the end
    stream = cast(
        AsyncGenerator[Chunk, None],
        local_provider.stream([msg("user", "Write a long story about a cat.")], long),
    )
    await anext(stream)
    pid = local_provider.worker_pid
    await stream.aclose()  # returns once the worker has ended that generation
    # The same process goes on (it was told to stop, not killed) and answers the next request.
    text, _ = await collect(local_provider, "Say hello.", GenerationParams(max_tokens=16))
    assert text
    assert local_provider.worker_pid == pid


@pytest.mark.local_model
@pytest.mark.parametrize(
    ("signum", "words"),
    [(signal.SIGILL, "make model"), (signal.SIGKILL, "memory"), (signal.SIGSEGV, "crashed")],
)
async def test_a_crashed_worker_ends_the_answer_and_the_next_one_works(
    fresh_provider: tuple[LocalProvider, Clock], signum: int, words: str
) -> None:
    provider, _ = fresh_provider
    error = await crash_mid_answer(provider, signum)
    assert error.code == LOCAL_MODEL_FAILED
    assert signal.Signals(signum).name in error.detail and words in error.detail
    health = provider.health()
    assert health.status == "degraded" and health.code == LOCAL_MODEL_FAILED
    text, _ = await collect(provider, "Say hello.", GenerationParams(max_tokens=8))
    assert text
    assert provider.health().status == "ok"


@pytest.mark.local_model
async def test_repeated_crashes_back_off_before_restarting(
    fresh_provider: tuple[LocalProvider, Clock],
) -> None:
    provider, clock = fresh_provider
    await crash_mid_answer(provider, signal.SIGKILL)
    await crash_mid_answer(provider, signal.SIGKILL)  # the first crash restarts at once
    with pytest.raises(ProviderError) as caught:  # the second waits before the next start
        await collect(provider, "Say hello.", GenerationParams(max_tokens=8))
    assert caught.value.code == LOCAL_MODEL_FAILED
    assert "2 times in a row" in caught.value.detail and "again in 2 s" in caught.value.detail
    assert provider.worker_pid is None  # no process was started meanwhile
    clock.now += 2
    text, _ = await collect(provider, "Say hello.", GenerationParams(max_tokens=8))
    assert text and provider.health().status == "ok"


@pytest.mark.local_model
async def test_a_file_that_is_not_a_model_fails_clearly(tmp_path: Path) -> None:
    require_local_model(REAL_SETTINGS)
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    provider = LocalProvider(make_settings(local_model_path=str(bogus)))
    with pytest.raises(ProviderError) as caught:
        await collect(provider, "Say hello.", GenerationParams(max_tokens=8))
    await provider.aclose()
    assert caught.value.code == LOCAL_MODEL_FAILED
    assert str(bogus) in caught.value.detail and "could not be loaded" in caught.value.detail
    assert provider.health().status == "degraded"
