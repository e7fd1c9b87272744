"""The provider used when no model is set up: every answer is a clear "how to configure" error."""

from __future__ import annotations

from collections.abc import AsyncIterator

from salon.llm.base import (
    LLM_NOT_CONFIGURED,
    ChatMessage,
    Chunk,
    GenerationParams,
    ModelHealth,
    ProviderError,
)

NOT_CONFIGURED_MESSAGE = (
    "No model is configured on this server. An administrator can either point Salon at an "
    "OpenAI-compatible server (Ollama, vLLM, llama.cpp, OpenAI) by setting SALON_LLM_BASE_URL "
    "(e.g. http://localhost:11434/v1), plus SALON_LLM_MODEL and SALON_LLM_API_KEY if needed, "
    "or install the embedded model with `make model` (scripts/install-model.sh, which builds "
    "llama.cpp for any CPU of this kind and adds the weights), then restart Salon."
)


class UnconfiguredProvider:
    """Stands in for a model so the server runs; ``stream`` always raises LLM_NOT_CONFIGURED."""

    @property
    def name(self) -> str:
        return "none"

    async def stream(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Chunk]:
        """Raises ``ProviderError(code=LLM_NOT_CONFIGURED)`` on first iteration; yields nothing."""
        raise ProviderError(NOT_CONFIGURED_MESSAGE, code=LLM_NOT_CONFIGURED)
        yield Chunk()  # pragma: no cover - makes this an async generator like the others

    def health(self) -> ModelHealth:
        return ModelHealth("not_configured", detail=NOT_CONFIGURED_MESSAGE,
                           code=LLM_NOT_CONFIGURED)

    async def aclose(self) -> None:
        return None
