"""The embedded model's answers and speed: figures to read, not a test (nothing here asserts).

    python bench/local_model.py                 # the chat's own system prompt
    BENCH_SYSTEM=none python bench/local_model.py   # no system prompt (the GGUF's default)

Asks 20 simple factual questions (capitals, arithmetic, definitions, everyday facts) one after
another through the embedded model exactly as a chat does (``LocalProvider``, in its child
process, with the system prompt the chat service builds and the default answer length), and
prints each answer's first words, whether it contains the expected word (as a whole word), the
time to the first token and the generation speed; then the totals: answers right, first-token
time p50 / max, tokens per second (median). The model's start-up (loading the weights) is
timed separately.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from salon.config import Settings  # noqa: E402
from salon.llm.base import ChatMessage, GenerationParams  # noqa: E402
from salon.llm.local import LocalProvider, is_local_model_available  # noqa: E402
from salon.services.prompts import system_prompt  # noqa: E402
from salon.services.turns import Location  # noqa: E402

# (question, words of which one must appear in the answer, lower case)
QUESTIONS = [
    ("What is the capital of France?", ("paris",)),
    ("What is the capital of Japan?", ("tokyo",)),
    ("What is the capital of Italy?", ("rome",)),
    ("What is the capital of Germany?", ("berlin",)),
    ("What is the capital of Spain?", ("madrid",)),
    ("What is 2 + 2?", ("4", "four")),
    ("What is 10 times 3?", ("30", "thirty")),
    ("What is 9 minus 4?", ("5", "five")),
    ("What is 20 divided by 4?", ("5", "five")),
    ("What is 7 + 8?", ("15", "fifteen")),
    ("What is photosynthesis?", ("light", "sunlight")),
    ("What is a noun?", ("person", "place", "thing")),
    ("What is gravity?", ("force",)),
    ("What is a mammal?", ("milk", "hair", "fur", "warm")),
    ("What is an atom?", ("matter", "particle", "nucleus", "element")),
    ("What color is the sky on a clear day?", ("blue",)),
    ("How many days are in a week?", ("7", "seven")),
    ("What do bees make?", ("honey",)),
    ("What is the largest planet in our solar system?", ("jupiter",)),
    ("What gas do plants absorb from the air?", ("carbon dioxide", "co2")),
]


def prompt(question: str) -> list[ChatMessage]:
    messages = [ChatMessage("user", question)]
    if os.environ.get("BENCH_SYSTEM", "salon") == "none":
        return messages
    return [ChatMessage("system", system_prompt(datetime.now(UTC), Location())), *messages]


async def ask(provider: LocalProvider, question: str, params: GenerationParams,
              ) -> tuple[str, float, float]:
    """The answer, seconds to its first token, and tokens per second after that."""
    sent = time.perf_counter()
    first = None
    text, completion = "", 0
    async for chunk in provider.stream(prompt(question), params):
        if chunk.text and first is None:
            first = time.perf_counter()
        text += chunk.text
        if chunk.usage:
            completion = chunk.usage.get("completion_tokens", 0)
    done = time.perf_counter()
    first = first or done
    speed = (completion - 1) / (done - first) if completion > 1 and done > first else 0.0
    return text, first - sent, speed


async def main() -> int:
    settings = Settings(env="test", llm_provider="local")
    if not is_local_model_available(settings):
        print("The embedded model is not installed: run `make model` first.", file=sys.stderr)
        return 1
    provider = LocalProvider(settings)
    params = GenerationParams(max_tokens=settings.max_answer_tokens)
    try:
        started = time.perf_counter()
        await ask(provider, "Hi", GenerationParams(max_tokens=1))
        print(f"model process start + load + one token: {time.perf_counter() - started:.2f} s")
        right, firsts, speeds = 0, [], []
        for question, expected in QUESTIONS:
            text, first, speed = await ask(provider, question, params)
            ok = any(re.search(rf"\b{re.escape(word)}\b", text.lower()) for word in expected)
            right += ok
            firsts.append(first)
            speeds.append(speed)
            words = " ".join(text.split()[:14])
            print(f"{'✓' if ok else '✗'} {question:<50} {first * 1000:5.0f} ms  "
                  f"{speed:5.0f} tok/s  {words}")
    finally:
        await provider.aclose()
    print(f"\nright: {right} / {len(QUESTIONS)}; first token p50 "
          f"{statistics.median(firsts) * 1000:.0f} ms, max {max(firsts) * 1000:.0f} ms; "
          f"{statistics.median(speeds):.0f} tokens/s (median)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
