"""Base for request bodies: strict types (no coercion of "1" to 1) and unknown fields refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
