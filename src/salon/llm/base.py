"""One streaming interface for every model provider.

A provider turns a list of chat messages into an async stream of ``Chunk``s. Failures a user can
cause or meet (provider down, bad key, timeout, malformed stream) are raised as ``ProviderError``
with a machine code, never as a bare exception, so the chat service can turn them into a clear
error event and message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from salon.domain.errors import SalonError

ChatRole = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: ChatRole
    content: str
    # data: URLs of images attached to this message (for vision-capable models).
    images: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 512
    temperature: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """One piece of a streamed answer: text, thought (reasoning), or final usage figures."""

    text: str = ""
    thought: str = ""
    usage: dict[str, int] | None = None


class ProviderError(SalonError):
    """The model could not answer. ``code`` is one of the LLM_* codes below."""

    code = "LLM_ERROR"
    default_detail = "The model could not answer."


# Codes a ProviderError carries.
LLM_UNAVAILABLE = "LLM_UNAVAILABLE"  # cannot connect / server down / 5xx
LLM_AUTH_FAILED = "LLM_AUTH_FAILED"  # 401 / 403 from the provider
LLM_TIMEOUT = "LLM_TIMEOUT"  # no answer in time
LLM_BAD_RESPONSE = "LLM_BAD_RESPONSE"  # malformed stream or body, or a 4xx we did not expect
LLM_NOT_CONFIGURED = "LLM_NOT_CONFIGURED"  # no endpoint and no embedded model
LOCAL_MODEL_FAILED = "LOCAL_MODEL_FAILED"  # the embedded model's process crashed or failed


@dataclass(frozen=True)
class ModelHealth:
    """What ``/healthz`` says of the model: ``ok``, ``not_loaded`` (the embedded model starts on
    the first chat), ``degraded`` (it failed; ``detail`` says why and what to do) or
    ``not_configured``. A model problem never makes the server itself unhealthy."""

    status: Literal["ok", "not_loaded", "degraded", "not_configured"]
    detail: str = ""
    code: str = ""


class Provider(Protocol):
    """A model backend. ``name`` is what the conversation's recipe records as the model."""

    @property
    def name(self) -> str: ...

    def stream(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Chunk]: ...

    def health(self) -> ModelHealth: ...

    async def aclose(self) -> None: ...
