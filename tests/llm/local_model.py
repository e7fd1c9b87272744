"""The embedded model in tests: present on every machine that built it, and in CI always."""

from __future__ import annotations

import os

import pytest

from salon.config import Settings
from salon.llm.local import is_local_model_available


def require_local_model(settings: Settings) -> None:
    """Skip (with the reason) when llama.cpp or the weights are missing; in CI (``CI`` set) fail
    instead, since CI builds the model and a skip there would hide a broken build."""
    if is_local_model_available(settings):
        return
    reason = ("embedded model not installed (llama_cpp or no GGUF file found): run `make model` "
              "(scripts/install-model.sh)")
    if os.environ.get("CI"):
        pytest.fail(f"CI must test the embedded model, but: {reason}")
    pytest.skip(reason)
