"""Base for request bodies: strict types (no coercion of "1" to 1), unknown fields refused, and
text a database cannot store (NUL, a lone surrogate such as JSON's ``"\\ud800"``) refused with
a 422 naming the field, before any of it reaches a service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from salon.domain.conversations import is_storable


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_unstorable_text(cls, value: object) -> object:
        if not _is_storable_value(value):
            raise PydanticCustomError(
                "unstorable_text",
                "Text must be valid Unicode without NUL characters (found a NUL or a lone "
                "surrogate such as \\ud800).")
        return value


def _is_storable_value(value: object) -> bool:
    """Strings anywhere in ``value`` (JSON: lists and objects, keys too) can be stored."""
    if isinstance(value, str):
        return is_storable(value)
    if isinstance(value, list):
        return all(_is_storable_value(v) for v in value)
    if isinstance(value, dict):
        return all(_is_storable_value(k) and _is_storable_value(v) for k, v in value.items())
    return True
