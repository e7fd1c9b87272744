"""A snapshot's content is kept in memory by its size, so the bound is in bytes."""

from __future__ import annotations

from typing import Any

from salon.services.share_viewing import content_size
from tests.factories import UserClient


async def test_snapshot_content_is_kept_by_its_size(app: Any, alice: UserClient) -> None:
    ctx = app.state.ctx
    small = await alice.share(await alice.new_conversation("a short question"))
    big = await alice.share(await alice.new_conversation("a long question " + "x" * 20_000))
    for share in (small, big):
        r = await alice.http.get(f"/api/v1/chats/share/{share['share_id']}")
        assert r.status_code == 200, r.text
    sizes = sorted(size for _, size in ctx.snapshot_cache._items.values())
    assert len(sizes) == 2 and sizes[1] > 20_000 > sizes[0] > 0
    assert ctx.snapshot_cache.size == sum(sizes)
    contents = [content for content, _ in ctx.snapshot_cache._items.values()]
    assert sorted(content_size(content) for content in contents) == sizes
