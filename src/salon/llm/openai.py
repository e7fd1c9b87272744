"""A streaming client for OpenAI-compatible chat servers (OpenAI, Ollama, vLLM, llama.cpp's server).

Every failure is raised as a ``ProviderError`` with one of the LLM_* codes and a sentence Salon
wrote for it: users (and the answers and shares they keep) never see the model server's own
error text, which can hold internal details. That text goes to the log instead, with the API
key and anything shaped like a token replaced by ``***``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from salon.config import Settings
from salon.llm.base import (
    LLM_AUTH_FAILED,
    LLM_BAD_RESPONSE,
    LLM_TIMEOUT,
    LLM_UNAVAILABLE,
    ChatMessage,
    Chunk,
    GenerationParams,
    ModelHealth,
    ProviderError,
)

Redact = Callable[[str], str]
log = logging.getLogger(__name__)
# Token-shaped words a server may echo (OpenAI-style keys, bearer headers): never logged.
_TOKENS = re.compile(r"\b(?:sk|rk|pk)-[\w-]+|(?i:bearer)\s+\S+")

# Provider error texts longer than this are left out of the log: they are HTML pages or stack
# traces, not something an admin reads there.
MAX_PROVIDER_MESSAGE_CHARS = 300
_SSE_FIELDS = frozenset({"data", "event", "id", "retry"})
_RESERVED_BODY_KEYS = frozenset({"model", "messages", "stream", "stream_options"})


class OpenAIProvider:
    """One OpenAI-compatible endpoint, ``settings.llm_base_url`` (e.g. ``http://host:11434/v1``).

    Holds one ``httpx.AsyncClient`` for its lifetime; call ``aclose`` when done. When
    ``settings.llm_model`` is empty, the first model listed by ``GET {base_url}/models`` is used,
    looked up once, on the first ``stream``. Raises ``ValueError`` if no base URL is set.
    """

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_base_url.strip().startswith(("http://", "https://")):
            raise ValueError(
                "The 'openai' model provider needs SALON_LLM_BASE_URL, the http(s) URL of an "
                "OpenAI-compatible server such as http://localhost:11434/v1"
            )
        self._base_url = settings.llm_base_url.strip().rstrip("/")
        self._api_key = settings.llm_api_key
        self._model = settings.llm_model.strip()
        self._timeout = settings.llm_timeout
        self._model_lock = asyncio.Lock()
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.llm_timeout), headers=_auth_headers(self._api_key)
        )

    @property
    def name(self) -> str:
        """The model name sent to the server; ``"auto"`` until an unset model has been looked up."""
        return self._model or "auto"

    @property
    def server(self) -> str:
        """The base URL without credentials or query string, safe to show and log."""
        return display_url(self._base_url)

    def health(self) -> ModelHealth:
        """Always ``ok``: the server is asked only when someone chats (its failures are shown
        then), so a health probe never costs tokens."""
        return ModelHealth("ok")

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Chunk]:
        """Stream the answer: text and thought chunks as they arrive, then one usage chunk if the
        server reports usage. Raises ``ProviderError`` on failure, possibly after some chunks.
        Closing the iterator early closes the HTTP response, which stops generation on servers
        that watch for disconnects."""
        model = await self._resolve_model()
        body = build_request_body(model, messages, params)
        url = f"{self._base_url}/chat/completions"
        with self._mapped_transport_errors():
            async with self._client.stream("POST", url, json=body) as response:
                await self._raise_for_status(response)
                await self._reject_non_stream(response)
                async for chunk in read_completion_stream(response.aiter_lines(), self._redact):
                    yield chunk

    async def _resolve_model(self) -> str:
        async with self._model_lock:
            if not self._model:
                self._model = await self._fetch_first_model()
            return self._model

    async def _fetch_first_model(self) -> str:
        """The first model ``GET /models`` lists. Auth, availability and timeout failures keep
        their codes; any other failure asks for SALON_LLM_MODEL."""
        hint = "set SALON_LLM_MODEL to the name of the model to use."
        with self._mapped_transport_errors():
            response = await self._client.get(f"{self._base_url}/models")
            try:
                await self._raise_for_status(response)
            except ProviderError as exc:
                if exc.code != LLM_BAD_RESPONSE:
                    raise
                detail = f"{exc.detail} No model is configured: {hint}"
                raise ProviderError(detail, code=LLM_BAD_RESPONSE) from exc
        model_id = _first_model_id(response)
        if model_id is None:
            raise ProviderError(
                f"No model is configured and the model server lists none: {hint}",
                code=LLM_BAD_RESPONSE,
            )
        return model_id

    async def _raise_for_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        await response.aread()
        raise http_status_error(response.status_code,
                                provider_message(response.text, self._redact))

    async def _reject_non_stream(self, response: httpx.Response) -> None:
        """A JSON body where an event stream was asked for: the server ignored ``stream``."""
        if response.headers.get("content-type", "").startswith("application/json"):
            await response.aread()
            raise server_failure(
                "The model server answered with JSON instead of an event stream.",
                LLM_BAD_RESPONSE, said=provider_message(response.text, self._redact))

    def _redact(self, text: str) -> str:
        text = text.replace(self._api_key, "***") if self._api_key else text
        return _TOKENS.sub("***", text)

    @contextmanager
    def _mapped_transport_errors(self) -> Iterator[None]:
        """Turn httpx transport failures into ProviderErrors. Timeouts come first: a connect
        timeout is both, and "did not answer in time" is what the admin needs to hear."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"The model server did not answer within "
                f"{self._timeout:g} seconds.",
                code=LLM_TIMEOUT,
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderError(
                f"Cannot reach the model server ({type(exc).__name__}).",
                code=LLM_UNAVAILABLE,
            ) from exc
        except httpx.DecodingError as exc:
            raise ProviderError(
                "The model server sent a body that cannot be decoded.",
                code=LLM_BAD_RESPONSE,
            ) from exc


def _first_model_id(response: httpx.Response) -> str | None:
    try:
        model_id = response.json()["data"][0]["id"]
    except (ValueError, LookupError, TypeError):
        return None
    return model_id if isinstance(model_id, str) and model_id else None


def build_request_body(
    model: str, messages: list[ChatMessage], params: GenerationParams
) -> dict[str, Any]:
    """The JSON body of a streaming chat completion request. ``params.extra`` keys are sent
    as-is but cannot replace the model, the messages or the streaming options."""
    body = {key: value for key, value in params.extra.items() if key not in _RESERVED_BODY_KEYS}
    body |= {
        "model": model,
        "messages": [message_json(message) for message in messages],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": params.max_tokens,
    }
    if params.temperature is not None:
        body["temperature"] = params.temperature
    return body


def message_json(message: ChatMessage) -> dict[str, Any]:
    """OpenAI's message shape: plain string content, or a text part plus ``image_url`` parts."""
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in message.images]
    return {"role": message.role, "content": parts}


def server_failure(sentence: str, code: str, *, said: str = "") -> ProviderError:
    """The ProviderError users see (``sentence``, Salon's words); what the server ``said``
    (already redacted) is logged for the admin, never put in the error."""
    if said:
        log.warning("model server failure %s: %s The server said: %s", code, sentence, said)
    return ProviderError(sentence, code=code)


def http_status_error(status: int, message: str) -> ProviderError:
    """The ProviderError for a non-2xx answer. ``message`` (the server's own error text) must
    already be redacted; it is logged. 429 counts as unavailable: the server is busy, not the
    request wrong."""
    if status in (401, 403):
        return server_failure(f"The model server refused the credentials (HTTP {status}); "
                              "check SALON_LLM_API_KEY.", LLM_AUTH_FAILED, said=message)
    if status >= 500 or status == 429:
        return server_failure(f"The model server is unavailable (HTTP {status}).",
                              LLM_UNAVAILABLE, said=message)
    return server_failure(f"The model server rejected the request (HTTP {status}).",
                          LLM_BAD_RESPONSE, said=message)


def provider_message(body: str, redact: Redact) -> str:
    """The error text of an error body (``{"error": {"message": ...}}``, ``{"error": "..."}``,
    ``{"detail": ...}`` or plain text), redacted; "" when absent or too long to be useful."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body
    text = _error_text(parsed)
    text = " ".join(redact(text).split())
    return text if len(text) <= MAX_PROVIDER_MESSAGE_CHARS else ""


def _error_text(parsed: Any) -> str:
    if isinstance(parsed, dict):
        for key in ("error", "message", "detail"):
            if key in parsed:
                return _error_text(parsed[key])
        return ""
    return parsed if isinstance(parsed, str) else ""


async def iter_sse_data(lines: AsyncIterator[str], redact: Redact) -> AsyncIterator[str]:
    """The data of each server-sent event (multi-line data joined with newlines). Raises
    ``LLM_BAD_RESPONSE`` for an ``error:`` line (llama.cpp's server reports failures so) and
    for any line that is not SSE at all."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
            continue
        name, value = _split_sse_line(line)
        if name == "error":
            raise server_failure("The model server reported an error.", LLM_BAD_RESPONSE,
                                 said=provider_message(value, redact))
        if name not in _SSE_FIELDS and not line.startswith(":"):
            raise server_failure("The model server did not send an event stream.",
                                 LLM_BAD_RESPONSE, said=_clip(redact(line)))
        if name == "data":
            data.append(value)
    if data:
        yield "\n".join(data)


def _split_sse_line(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name, value.removeprefix(" ")


@dataclass
class _StreamState:
    done: bool = False
    finished: bool = False
    usage: dict[str, int] | None = None


async def read_completion_stream(lines: AsyncIterator[str], redact: Redact) -> AsyncIterator[Chunk]:
    """Yield text and thought chunks until ``[DONE]``, then one usage chunk (the last usage object
    seen, if any). A stream that ends without ``[DONE]`` is accepted only if a choice finished;
    otherwise ``LLM_BAD_RESPONSE``, as for malformed events and mid-stream error events."""
    state = _StreamState()
    async for data in iter_sse_data(lines, redact):
        if data.strip() == "[DONE]":
            state.done = True
            break
        for chunk in _apply_event(parse_event(data, redact), state):
            yield chunk
    if not (state.done or state.finished):
        raise ProviderError(
            "The model server ended the answer stream early (no [DONE] and no finish_reason).",
            code=LLM_BAD_RESPONSE,
        )
    if state.usage is not None:
        yield Chunk(usage=state.usage)


def parse_event(data: str, redact: Redact) -> dict[str, Any]:
    """One ``data:`` payload as a JSON object; mid-stream ``{"error": ...}`` objects raise."""
    try:
        event: Any = json.loads(data)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise server_failure("The model server sent a malformed stream event.",
                             LLM_BAD_RESPONSE, said=_clip(redact(data)))
    if event.get("error"):
        raise server_failure("The model server reported an error.", LLM_BAD_RESPONSE,
                             said=provider_message(data, redact))
    return event


def _apply_event(event: dict[str, Any], state: _StreamState) -> list[Chunk]:
    usage = event.get("usage")
    if isinstance(usage, dict):
        state.usage = normalize_usage(usage)
    chunks: list[Chunk] = []
    for choice in event.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        if choice.get("finish_reason"):
            state.finished = True
        chunks += _delta_chunks(choice.get("delta"))
    return chunks


def _delta_chunks(delta: Any) -> list[Chunk]:
    """Thought first, then text: servers that send both in one delta are ending the thought."""
    if not isinstance(delta, dict):
        return []
    thought = delta.get("reasoning_content") or delta.get("reasoning")
    text = delta.get("content")
    chunks = [Chunk(thought=thought)] if isinstance(thought, str) and thought else []
    if isinstance(text, str) and text:
        chunks.append(Chunk(text=text))
    return chunks


def normalize_usage(usage: dict[str, Any]) -> dict[str, int]:
    """The three OpenAI usage counts as ints; a missing total is the sum of the other two."""
    prompt = _as_int(usage.get("prompt_tokens"))
    completion = _as_int(usage.get("completion_tokens"))
    total = _as_int(usage.get("total_tokens")) or prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def display_url(url: str) -> str:
    """``url`` without user info, query or fragment."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "(invalid URL)"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}".rstrip("/")


def _auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
