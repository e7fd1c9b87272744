"""create_provider's choice of backend, and the provider used when none is configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from salon.config import Settings
from salon.llm import create_provider
from salon.llm.base import (
    LLM_NOT_CONFIGURED,
    ChatMessage,
    GenerationParams,
    Provider,
    ProviderError,
)
from salon.llm.local import LocalProvider, is_local_model_available
from salon.llm.openai import OpenAIProvider
from salon.llm.unconfigured import UnconfiguredProvider

URL = "http://127.0.0.1:9/v1"  # never contacted: creating a provider makes no request


def make_settings(**overrides: Any) -> Settings:
    return Settings(**({"env": "test"} | overrides))


async def created(settings: Settings) -> type[Provider]:
    provider = create_provider(settings)
    await provider.aclose()
    return type(provider)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"llm_provider": "openai", "llm_base_url": URL}, OpenAIProvider),
        ({"llm_provider": "auto", "llm_base_url": URL}, OpenAIProvider),
        ({"llm_provider": "local"}, LocalProvider),
        ({"llm_provider": "local", "llm_base_url": URL}, LocalProvider),
        ({"llm_provider": "none", "llm_base_url": URL}, UnconfiguredProvider),
    ],
)
async def test_explicit_choices(overrides: dict[str, Any], expected: type[Provider]) -> None:
    assert await created(make_settings(**overrides)) is expected


async def test_auto_without_url_or_local_model_is_unconfigured(tmp_path: Path) -> None:
    settings = make_settings(local_model_path=str(tmp_path / "missing.gguf"))
    assert await created(settings) is UnconfiguredProvider


async def test_auto_without_url_uses_the_local_model_when_installed() -> None:
    settings = make_settings()
    expected = LocalProvider if is_local_model_available(settings) else UnconfiguredProvider
    assert await created(settings) is expected


def test_openai_without_url_fails_at_creation() -> None:
    with pytest.raises(ValueError, match="SALON_LLM_BASE_URL"):
        create_provider(make_settings(llm_provider="openai"))


async def test_openai_name_is_the_configured_model() -> None:
    provider = create_provider(make_settings(llm_base_url=URL, llm_model="llama3.2:1b"))
    await provider.aclose()
    assert provider.name == "llama3.2:1b"


async def test_unconfigured_answer_explains_how_to_configure() -> None:
    provider = UnconfiguredProvider()
    with pytest.raises(ProviderError) as caught:
        async for _ in provider.stream([ChatMessage("user", "hi")], GenerationParams()):
            pass
    await provider.aclose()
    detail = caught.value.detail
    assert caught.value.code == LLM_NOT_CONFIGURED
    for hint in ("SALON_LLM_BASE_URL", "SALON_LLM_MODEL", "SALON_LLM_API_KEY"):
        assert hint in detail
    assert "make model" in detail and "scripts/install-model.sh" in detail
