"""The one error vocabulary: every failure a user can cause carries a machine code.

Adapters map codes to transport (``web/errors.py`` maps them to HTTP status for the API and the
pages alike); domain and services only raise.
"""

from __future__ import annotations

from typing import Any


class SalonError(Exception):
    """A failure with a stable machine ``code`` and a human ``detail`` safe to show the caller."""

    code = "ERROR"
    default_detail = "Something went wrong."

    def __init__(self, detail: str | None = None, *, code: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.default_detail
        if code:
            self.code = code
        self.extra = extra
        super().__init__(self.detail)


class NotFound(SalonError):
    code = "NOT_FOUND"
    default_detail = "Not found."


class Unauthenticated(SalonError):
    code = "NOT_AUTHENTICATED"
    default_detail = "You need to sign in (session cookie or 'Authorization: Bearer <token>')."


class Forbidden(SalonError):
    code = "FORBIDDEN"
    default_detail = "You are not allowed to do that."


class Gone(SalonError):
    code = "GONE"
    default_detail = "This is no longer available."


class Conflict(SalonError):
    code = "CONFLICT"
    default_detail = "That conflicts with existing data."


class InvalidInput(SalonError):
    code = "VALIDATION_ERROR"
    default_detail = "The request is not valid."


class TooLarge(SalonError):
    code = "PAYLOAD_TOO_LARGE"
    default_detail = "The request is too large."


class RateLimited(SalonError):
    code = "RATE_LIMITED"
    default_detail = "Too many requests."


class NotSupported(SalonError):
    code = "NOT_SUPPORTED"
    default_detail = "This is not supported on this server."


class Overloaded(SalonError):
    """This server has too much of one kind of work in hand to take more now (503)."""

    code = "SERVER_BUSY"
    default_detail = "The server is busy. Try again in a moment."


class Unavailable(SalonError):
    """Another server Salon depends on (a community hub) did not give a usable answer."""

    code = "UPSTREAM_UNAVAILABLE"
    default_detail = "A server this needs did not answer."
