"""Share links never reach the logs.

A share link is a capability: whoever has it may open the chat. The server's access log would
write every link opened (``GET /s/{id}``, the API's ``/api/v1/chats/share/{id}``, clones,
files, the login page's ``?next=/s/{id}``, Khoj's unshare route
``DELETE /api/chat/share?public_conversation_slug={id}``), so the filter here replaces the
link with ``…`` before a record is written. It is installed on uvicorn's access logger when
the app starts.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "\u2026"

_LINK_PATHS = re.compile(
    r"^(/s/|/share/chat/|/share/|/shared/|/api/v1/chats/share/|/api/v1/chats/)([^/?]+)")
# Query parameters that carry a link: where to go after logging in, Khoj's unshare.
_LINK_PARAMS = re.compile(r"([?&](?:next|public_conversation_slug)=)[^&]*")


def redact_path(path: str) -> str:
    """``path`` (with its query) with any share link in it replaced by ``…``."""
    path = _LINK_PARAMS.sub(lambda m: m.group(1) + REDACTED, path)
    match = _LINK_PATHS.match(path)
    if match is None:
        return path
    prefix = match.group(1)
    if prefix == "/api/v1/chats/":
        # Only the clone route puts a share link here; other routes carry chat ids.
        rest = path[match.end(2):]
        if not rest.startswith("/clone/shared"):
            return path
    return prefix + REDACTED + path[match.end(2):]


class RedactShareLinks(logging.Filter):
    """Rewrites uvicorn access records, whose arguments are (client, method, path, http
    version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_path(args[2]), args[3], args[4])
        return True


def install() -> None:
    """Add the filter to the access logger (once, however many apps start)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactShareLinks) for f in logger.filters):
        logger.addFilter(RedactShareLinks())
