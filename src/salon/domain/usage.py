"""What an answer cost: its tokens at the admin's prices."""

from __future__ import annotations

from collections.abc import Mapping

TOKENS_PER_PRICE = 1_000_000  # prices are per million tokens, as model vendors quote them


def usage_cost(usage: Mapping[str, object], *, input_price: float, output_price: float) -> float:
    """The cost of ``usage`` (``prompt_tokens`` at ``input_price``, ``completion_tokens`` at
    ``output_price``, both per million tokens); a missing count is no tokens."""
    prompt = usage.get("prompt_tokens", 0)
    completion = usage.get("completion_tokens", 0)
    prompt_tokens = prompt if isinstance(prompt, int) else 0
    completion_tokens = completion if isinstance(completion, int) else 0
    total = prompt_tokens * input_price + completion_tokens * output_price
    return round(total / TOKENS_PER_PRICE, 10)
