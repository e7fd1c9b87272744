"""What a form's POST hands to the page it redirects to (post/redirect/get).

A successful form post answers ``303`` to a GET page, so reloading that page never posts the
form again. Some results are shown once and stored nowhere (a new API token's secret, a
Telegram link code, an import's report): they ride to the next GET in a short-lived cookie,
which that GET reads and deletes.

The cookie is HttpOnly, SameSite=Strict, Secure over HTTPS, scoped to the page's path, lives
``FLASH_SECONDS``, and carries an HMAC (the server's secret key) over its content, its expiry
and the browser's session token: nobody can plant one, and one set for a session is void in
any other. Its content is readable by the browser it was set for, which is shown it anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from fastapi import Request, Response

from salon.config import Settings
from salon.web import cookies

FLASH_COOKIE = "salon_flash"
FLASH_SECONDS = 120
# Browsers keep cookies up to 4096 bytes: the encoded content stays well under.
MAX_FLASH_BYTES = 3000


def _mac(settings: Settings, request: Request, body: str, expires: int) -> str:
    message = f"flash|{cookies.session_token(request) or ''}|{expires}|{body}"
    digest = hmac.new(settings.secret_key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def set_flash(
    response: Response, request: Request, settings: Settings, *, path: str,
    values: dict[str, Any],
) -> None:
    """Hand ``values`` (JSON, at most ``MAX_FLASH_BYTES`` encoded) to the next GET of
    ``path``. Raises ValueError when they are too large (callers trim them first)."""
    encoded = base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode())
    body = encoded.decode().rstrip("=")  # no "=": cookie values stay unquoted
    if len(body) > MAX_FLASH_BYTES:
        raise ValueError("flash values too large")
    expires = int(time.time()) + FLASH_SECONDS
    value = f"{body}.{expires}.{_mac(settings, request, body, expires)}"
    response.set_cookie(FLASH_COOKIE, value, max_age=FLASH_SECONDS, httponly=True,
                        samesite="strict", secure=cookies.is_secure(request, settings),
                        path=path)


def take_flash(request: Request, settings: Settings) -> dict[str, Any] | None:
    """The values a POST handed to this GET, or None (no cookie, expired, or not ours). The
    caller deletes the cookie from its response (``forget_flash``)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or raw.count(".") != 2:
        return None
    body, expires_text, mac = raw.split(".")
    if not expires_text.isdigit() or int(expires_text) < time.time():
        return None
    if not hmac.compare_digest(mac, _mac(settings, request, body, int(expires_text))):
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    return values if isinstance(values, dict) else None


def forget_flash(response: Response, request: Request, settings: Settings, *, path: str) -> None:
    """Delete the flash cookie (the page showed it once)."""
    response.delete_cookie(FLASH_COOKIE, path=path, httponly=True, samesite="strict",
                           secure=cookies.is_secure(request, settings))
