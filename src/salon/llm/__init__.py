"""Model providers behind one streaming interface (see ``salon.llm.base``).

``create_provider(settings)`` picks the backend once at startup; nothing else here reads settings.
"""

from __future__ import annotations

from typing import Literal

from salon.config import Settings
from salon.llm.base import Provider
from salon.llm.local import LocalProvider, is_local_model_available
from salon.llm.unconfigured import UnconfiguredProvider

__all__ = ["create_provider"]


def create_provider(settings: Settings) -> Provider:
    """The provider ``settings.llm_provider`` asks for. ``"auto"`` means: the OpenAI-compatible
    server if SALON_LLM_BASE_URL is set, else the embedded model if llama.cpp and its weights are
    installed, else ``UnconfiguredProvider`` (whose answers explain how to configure one).
    Raises ``ValueError`` for ``"openai"`` without a usable base URL. ``"local"`` never fails
    here: a missing llama.cpp or model file is reported when the model is first used."""
    choice = settings.llm_provider
    if choice == "auto":
        choice = _auto_choice(settings)
    if choice == "openai":
        from salon.llm.openai import OpenAIProvider  # httpx loads only for this provider

        return OpenAIProvider(settings)
    if choice == "local":
        return LocalProvider(settings)
    return UnconfiguredProvider()


def _auto_choice(settings: Settings) -> Literal["openai", "local", "none"]:
    if settings.llm_base_url.strip():
        return "openai"
    return "local" if is_local_model_available(settings) else "none"
