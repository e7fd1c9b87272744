"""Knowing at once that the server was told to stop.

uvicorn, on SIGTERM or SIGINT, stops accepting connections and then waits for open responses
to finish (up to ``SALON_SHUTDOWN_GRACE_SECONDS``) before the app's own shutdown runs. Live
share streams never finish by themselves, so the app needs to hear of the signal when it
arrives: ``notify_on_stop_signals`` chains a callback in front of the handlers the server
installed, run on the event loop. Signals can only be handled on the main thread; elsewhere
(tests that run a server in a thread) it does nothing.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def notify_on_stop_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` on the running loop when a stop signal arrives, then hand the signal
    to the handler that was there (the server's). Returns a function that puts those handlers
    back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def handle(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        handler = previous[signal.Signals(signum)]
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
