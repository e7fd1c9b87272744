"""A TCP proxy in front of a real server (PostgreSQL, Redis) that a test can take down, stall
and bring back, to see how Salon behaves when a server it needs fails, without touching the
real server.

``up`` forwards bytes both ways. ``down`` closes every connection and the listening socket
(clients get "connection refused", as from a stopped server). ``stall`` keeps everything open
and forwards nothing (a frozen server or a dead network path: clients wait for bytes that
never come). The proxy runs its own event loop in a thread, so it serves whatever loop the
client uses (a uvicorn thread, pytest's loop).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import sqlalchemy as sa

State = Literal["up", "down", "stall"]
T = TypeVar("T")


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.state: State = "up"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen)
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._close_all)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def up(self) -> None:
        self._call(self._up)

    def down(self) -> None:
        self._call(self._close_all)
        self.state = "down"

    def stall(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)
        self.state = "stall"

    # --- in the proxy's loop ----------------------------------------------------------------

    def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    async def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._accept, sock=sock)
        self._flowing.set()

    async def _up(self) -> None:
        if self._server is None:
            await self._listen()
        self._flowing.set()
        self.state = "up"

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._flowing.wait()
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        while True:
            data = await reader.read(65536)
            if not data:
                writer.close()
                return
            await self._flowing.wait()  # a stall holds the bytes here
            writer.write(data)
            await writer.drain()


@contextmanager
def proxy_in_front_of(database_url: str) -> Iterator[TcpProxy]:
    """A running proxy in front of the server a database URL names (PostgreSQL's port by
    default)."""
    url = sa.make_url(database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running
