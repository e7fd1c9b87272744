"""Share links never reach the logs, and the access log costs the request little.

A share link is a capability: whoever has it may open the chat. The server's access log would
write every link opened (``GET /s/{id}``, the API's ``/api/v1/chats/share/{id}``, clones,
files, the login page's ``?next=/s/{id}``, Khoj's unshare route
``DELETE /api/chat/share?public_conversation_slug={id}``), so the filter here replaces the
link with ``…`` before a record is written. It is installed on uvicorn's access logger when
the app starts.

Writing a line per request on the event loop (formatting it, a write to the terminal) took a
third of the share page's throughput. ``install`` moves the access logger's handlers behind a
queue: the request only redacts the path (a prefix check, regular expressions only for the few
paths that may hold a link) and puts the record on the queue; a background thread formats and
writes it with the handlers (and format) uvicorn configured. Lines still in the queue are
written when the process exits (``restore``).
"""

from __future__ import annotations

import atexit
import logging
import queue
import re
from logging.handlers import QueueHandler, QueueListener

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "\u2026"

_LINK_PATHS = re.compile(
    r"^(/s/|/share/chat/|/share/|/shared/|/api/v1/chats/share/|/api/v1/chats/)([^/?]+)")
# Only paths starting with one of these can hold a link (the patterns above).
_LINK_PREFIXES = ("/s/", "/share", "/api/v1/chats/")
# Query parameters that carry a link: where to go after logging in, Khoj's unshare.
_LINK_PARAMS = re.compile(r"([?&](?:next|public_conversation_slug)=)[^&]*")


def redact_path(path: str) -> str:
    """``path`` (with its query) with any share link in it replaced by ``…``."""
    if "?" in path:
        path = _LINK_PARAMS.sub(lambda m: m.group(1) + REDACTED, path)
    if not path.startswith(_LINK_PREFIXES):
        return path
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


class _Enqueue(QueueHandler):
    """Puts the record on the queue as it is: its arguments are plain strings and numbers
    (already redacted), so the writing thread formats it, not the request."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


_listener: QueueListener | None = None
_listening_to = ACCESS_LOGGER


def install(name: str = ACCESS_LOGGER) -> None:
    """Add the filter to the access logger (once, however many apps start), and move the
    handlers it has (uvicorn's, or an operator's ``--log-config``) to a background thread.
    Once they are behind the queue, handlers added later stay where they are, until logging is
    configured again (which removes the queue's)."""
    global _listener, _listening_to
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactShareLinks) for f in logger.filters):
        logger.addFilter(RedactShareLinks())
    if not logger.handlers or any(isinstance(h, _Enqueue) for h in logger.handlers):
        return
    if _listener is not None:  # logging was configured again: its handlers were replaced
        _listener.stop()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = QueueListener(records, *logger.handlers, respect_handler_level=True)
    _listening_to = name
    for handler in logger.handlers[:]:
        logger.removeHandler(handler)
    logger.addHandler(_Enqueue(records))
    _listener.start()


@atexit.register
def restore() -> None:
    """Write the lines still queued, stop the thread and give the handlers back to the access
    logger (at exit, so no line is lost)."""
    global _listener
    if _listener is None:
        return
    _listener.stop()
    logger = logging.getLogger(_listening_to)
    for handler in logger.handlers[:]:
        if isinstance(handler, _Enqueue):
            logger.removeHandler(handler)
    for handler in _listener.handlers:
        logger.addHandler(handler)
    _listener = None
