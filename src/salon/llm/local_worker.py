"""The embedded model's child process: ``python -m salon.llm.local_worker --model FILE``.

It loads the GGUF once with llama.cpp and serves one generation at a time, speaking JSON lines:
requests on standard input, events on the file descriptor that was standard output (standard
output itself is pointed at standard error first, so nothing llama.cpp prints can corrupt the
protocol).

Requests (one JSON object a line):
- ``{"op": "generate", "id": N, "messages": [{"role", "content"}...], "max_tokens": M,
  "temperature": T or null}``
- ``{"op": "stop", "id": N}``: end generation N after the current token.

Events:
- ``{"event": "ready", "context_tokens": C}`` once the model is loaded, or
  ``{"event": "load_failed", "detail": ...}`` and exit code 3.
- ``{"id": N, "text": ...}`` pieces of the answer, ``{"id": N, "usage": {...}}``, then
  ``{"id": N, "end": true}``, or ``{"id": N, "error": ...}`` when llama.cpp raised.

The process ends when standard input closes (the server went away). Nothing here is imported by
the server process: a crash in llama.cpp (an instruction this CPU cannot run, a segfault, the
kernel's out-of-memory killer) ends this process only.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import IO, Any

from salon.llm.base import ChatMessage

# ChatML, SmolLM2's template, wraps each message in "<|im_start|>role\n ... <|im_end|>\n".
MESSAGE_OVERHEAD_TOKENS = 5
# Room for the template's own text: the assistant prefix and a default system prompt.
PROMPT_MARGIN_TOKENS = 48
# SmolLM2's model card recommends temperature 0.2 and top_p 0.9; a 135M model falls into loops
# ("la femme, la femme, ...") without a repeat penalty.
DEFAULT_TEMPERATURE = 0.2
SAMPLING = {"top_p": 0.9, "repeat_penalty": 1.1}
LOAD_FAILED_EXIT = 3

PromptCounter = Callable[[list[dict[str, str]]], int]


def fit_messages(
    messages: list[ChatMessage], *, count_tokens: Callable[[str], int], budget: int
) -> list[ChatMessage]:
    """The messages to send so their tokens (``count_tokens`` of each text plus
    MESSAGE_OVERHEAD_TOKENS) fit ``budget``: system messages (while they leave room for the last
    message), then the newest others that fit, in their original order. The last message is
    always kept; if it alone is too long, its beginning is cut off."""
    if not messages:
        return []

    def cost(message: ChatMessage) -> int:
        return count_tokens(message.content) + MESSAGE_OVERHEAD_TOKENS

    *history, last = messages
    last = _clip_to_budget(last, cost=cost, budget=budget)
    remaining = budget - cost(last)
    system = [m for m in history if m.role == "system"]
    if sum(cost(m) for m in system) > remaining:
        system = []
    remaining -= sum(cost(m) for m in system)
    kept: list[ChatMessage] = []
    for message in reversed([m for m in history if m.role != "system"]):
        remaining -= cost(message)
        if remaining < 0:
            break
        kept.append(message)
    return [*system, *reversed(kept), last]


def _clip_to_budget(
    message: ChatMessage, *, cost: Callable[[ChatMessage], int], budget: int
) -> ChatMessage:
    """Drop the message's oldest text until it fits ``budget`` (it may end up empty)."""
    while message.content and cost(message) > budget:
        keep = int(len(message.content) * max(budget, 0) / cost(message) * 0.9)
        message = replace(message, content=message.content[len(message.content) - keep :])
    return message


class Model:
    """A loaded llama.cpp model and what generating with it needs."""

    def __init__(self, path: str, *, context_tokens: int) -> None:
        import llama_cpp  # only ever in this process

        self.context_tokens = context_tokens
        self.llama: Any = llama_cpp.Llama(model_path=path, n_ctx=context_tokens, verbose=False)
        self.count_prompt = make_prompt_counter(self.llama)

    def request(self, messages: list[ChatMessage], *, max_tokens: int,
                temperature: float | None) -> dict[str, Any]:
        """The ``create_chat_completion`` arguments, history trimmed to the context window."""
        max_tokens = max(1, min(max_tokens, self.context_tokens // 2))
        budget = self.context_tokens - max_tokens - PROMPT_MARGIN_TOKENS
        kept = fit_messages(messages, count_tokens=self.count_tokens, budget=budget)
        return {
            "messages": [{"role": m.role, "content": m.content} for m in kept],
            "max_tokens": max_tokens,
            "temperature": DEFAULT_TEMPERATURE if temperature is None else temperature,
            "stream": True,
            **SAMPLING,
        }

    def generate(self, request: dict[str, Any], stop: threading.Event) -> Iterator[str]:
        yield from _delta_texts(self.llama.create_chat_completion(**request), stop)

    def usage(self, messages: list[dict[str, str]], answer: str) -> dict[str, int]:
        completion = self.count_tokens(answer)
        if self.count_prompt is None:
            return {"completion_tokens": completion}
        prompt = self.count_prompt(messages)
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    def count_tokens(self, text: str) -> int:
        return count_tokens(self.llama, text)


def _delta_texts(parts: Iterator[dict[str, Any]], stop: threading.Event) -> Iterator[str]:
    try:
        for part in parts:
            if stop.is_set():
                return
            for choice in part.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    yield content
    finally:
        close = getattr(parts, "close", None)
        if close is not None:
            close()


def make_prompt_counter(llama: Any) -> PromptCounter | None:
    """Counts prompt tokens exactly as llama-cpp-python's default chat handler builds the prompt
    (the GGUF's own chat template); None when the model uses another chat format."""
    template = (llama.metadata or {}).get("tokenizer.chat_template")
    if not template or llama.chat_format != "chat_template.default":
        return None
    from llama_cpp import llama_chat_format

    formatter: Any = llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=_token_text(llama, llama.token_eos()),
        bos_token=_token_text(llama, llama.token_bos()),
    )

    def count(messages: list[dict[str, str]]) -> int:
        result = formatter(messages=messages)
        prompt = result.prompt.encode("utf-8")
        return len(llama.tokenize(prompt, add_bos=not result.added_special, special=True))

    return count


def count_tokens(llama: Any, text: str) -> int:
    return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0


def _token_text(llama: Any, token_id: int) -> str:
    if token_id < 0:
        return ""
    return str(llama.detokenize([token_id], special=True).decode("utf-8", errors="replace"))


class Worker:
    """Reads requests on one thread (so a stop arrives while a generation runs) and generates
    on the main thread, one request at a time."""

    def __init__(self, model: Model, out: IO[str]) -> None:
        self.model = model
        self.out = out
        self.requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stops: dict[int, threading.Event] = {}
        self.stops_lock = threading.Lock()

    def send(self, event: dict[str, Any]) -> None:
        self.out.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.out.flush()

    def read_requests(self, source: IO[str]) -> None:
        for line in source:
            try:
                request = json.loads(line)
            except ValueError:
                continue
            if request.get("op") == "stop":
                self.stop_event(int(request.get("id", -1))).set()
            elif request.get("op") == "generate":
                self.requests.put(request)
        self.requests.put(None)  # the server went away

    def stop_event(self, request_id: int) -> threading.Event:
        with self.stops_lock:
            return self.stops.setdefault(request_id, threading.Event())

    def serve(self) -> None:
        while (request := self.requests.get()) is not None:
            self.answer(request)

    def answer(self, request: dict[str, Any]) -> None:
        request_id = int(request["id"])
        stop = self.stop_event(request_id)
        try:
            messages = [ChatMessage(role=m["role"], content=m["content"])
                        for m in request["messages"]]
            completion = self.model.request(messages, max_tokens=int(request["max_tokens"]),
                                            temperature=request.get("temperature"))
            pieces: list[str] = []
            for text in self.model.generate(completion, stop):
                pieces.append(text)
                self.send({"id": request_id, "text": text})
            usage = self.model.usage(completion["messages"], "".join(pieces))
            self.send({"id": request_id, "usage": usage})
            self.send({"id": request_id, "end": True})
        except Exception as exc:  # reported to the server, which logs it and tells the user
            self.send({"id": request_id, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            with self.stops_lock:
                self.stops.pop(request_id, None)


def protocol_output() -> IO[str]:
    """A private copy of standard output for the protocol; standard output itself then goes to
    standard error, where llama.cpp's own prints belong."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--context-tokens", type=int, default=2048)
    args = parser.parse_args(argv)
    out = protocol_output()
    try:
        model = Model(args.model, context_tokens=args.context_tokens)
    except Exception as exc:  # a bad file or a missing llama.cpp: told to the server
        out.write(json.dumps({"event": "load_failed",
                              "detail": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return LOAD_FAILED_EXIT
    worker = Worker(model, out)
    worker.send({"event": "ready", "context_tokens": model.context_tokens})
    threading.Thread(target=worker.read_requests, args=(sys.stdin,), daemon=True).start()
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
