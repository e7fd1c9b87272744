"""An answer being written when the server stops ends as interrupted, whether the model is
streaming or silent: ``_until_stopping`` ends the model's stream when ``stopping`` is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from salon.llm.base import Chunk
from salon.services.chat import ServerStopping, _until_stopping


class Model:
    """A model stream: ``words`` chunks, then silence (``hang``) or the end; remembers whether
    it was closed (so the model stops generating)."""

    def __init__(self, words: int, *, hang: bool) -> None:
        self.words, self.hang, self.closed = words, hang, False

    async def stream(self) -> AsyncIterator[Chunk]:
        try:
            for n in range(self.words):
                yield Chunk(text=f"w{n} ")
                await asyncio.sleep(0)
            if self.hang:
                await asyncio.Event().wait()
        finally:
            self.closed = True


async def test_a_finished_stream_passes_through_whole() -> None:
    model = Model(5, hang=False)
    got = [c.text async for c in _until_stopping(asyncio.Event(), model.stream())]
    assert got == [f"w{n} " for n in range(5)] and model.closed


@pytest.mark.parametrize("hang", [True, False])
async def test_stopping_ends_a_silent_or_a_streaming_model(hang: bool) -> None:
    stopping = asyncio.Event()
    model = Model(3 if hang else 10_000, hang=hang)
    got: list[str] = []
    with pytest.raises(ServerStopping):
        async for chunk in _until_stopping(stopping, model.stream()):
            got.append(chunk.text)
            if len(got) == 3:
                asyncio.get_running_loop().call_later(0.05, stopping.set)
    assert got[:3] == ["w0 ", "w1 ", "w2 "] and model.closed
    assert len(got) < 10_000
