"""Base for request bodies: strict types (no coercion of "1" to 1), unknown fields refused, and
text a database cannot store (NUL, a lone surrogate such as JSON's ``"\\ud800"``) refused with
a 422 naming the field, before any of it reaches a service. A whole number written with a
fraction of zero (``5.0``) is an integer, as JSON Schema says.

The schemas document what the services accept: where a service checks a value itself (with its
own message and code), the field's schema says the same in ``json_schema_extra`` (``NON_BLANK``
...), so a body the document calls valid is never refused as invalid.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationInfo, field_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from salon.domain.conversations import is_storable


def _document_storable_text(schema: JsonDict) -> None:
    """Every text field's schema says it holds no NUL (``_check_value`` refuses one)."""
    _no_nul(schema.get("properties"), nested=True)


def _no_nul(schema: JsonValue, *, nested: bool = False) -> None:
    """``schema`` (or, ``nested``, each schema in it) and the schemas within it."""
    if isinstance(schema, list) or (nested and isinstance(schema, dict)):
        for inner in schema.values() if isinstance(schema, dict) else schema:
            _no_nul(inner)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and "pattern" not in schema:
        schema["pattern"] = NO_NUL
    for key in ("anyOf", "oneOf", "items", "additionalProperties"):
        _no_nul(schema.get(key))


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True,
                              json_schema_extra=_document_storable_text)

    @field_validator("*", mode="before")
    @classmethod
    def _check_value(cls, value: object, info: ValidationInfo) -> object:
        if not _is_storable_value(value):
            raise PydanticCustomError(
                "unstorable_text",
                "Text must be valid Unicode without NUL characters (found a NUL or a lone "
                "surrogate such as \\ud800).")
        if isinstance(value, float) and value.is_integer() and _wants_int(cls, info):
            return int(value)
        return value


# Patterns mean the same in Python and ECMA-262 (what JSON Schema names): Python's whitespace
# (what the services strip) is ECMA's ``\s`` with \x1c-\x1f and \x85. None allows a NUL.
NO_NUL = r"^[^\x00]*$"
# Text with something besides whitespace.
NON_BLANK = r"^[^\x00]*[^\x00\s\x1c-\x1f\x85][^\x00]*$"
# Text with a letter, a digit or a visible ASCII character: never empty once invisible
# characters are dropped (a title of other visible characters only is accepted too).
VISIBLE = r"^[^\x00]*[\w!-~][^\x00]*$"
# One e-mail address as domain.users.normalize_email reads it (without the spaces it strips).
EMAIL = r"^[^@\x00\s\x1c-\x1f\x85]+@[^@\x00\s\x1c-\x1f\x85]+\.[^@\x00\s\x1c-\x1f\x85]+$"


def _wants_int(model: type[BaseModel], info: ValidationInfo) -> bool:
    field = model.model_fields.get(info.field_name or "")
    if field is None:
        return False
    kinds: tuple[Any, ...] = (field.annotation, *getattr(field.annotation, "__args__", ()))
    return int in kinds and float not in kinds


def _is_storable_value(value: object) -> bool:
    """Strings anywhere in ``value`` (JSON: lists and objects, keys too) can be stored."""
    if isinstance(value, str):
        return is_storable(value)
    if isinstance(value, list):
        return all(_is_storable_value(v) for v in value)
    if isinstance(value, dict):
        return all(_is_storable_value(k) and _is_storable_value(v) for k, v in value.items())
    return True
