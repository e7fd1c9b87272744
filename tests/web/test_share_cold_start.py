"""A link's first seconds: many viewers opening a share nobody has viewed yet, at once, get
the page from one render (they wait for it) instead of each rendering it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from salon.config import Settings
from salon.web.pages import share_page
from salon.web.pages.share_cache import render_anonymous
from tests.web.test_access_log import khoj_share
from tests.web.test_live_server import serve, sign_up

VIEWERS = 32


async def test_concurrent_first_views_share_one_render(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[str] = []
    def counted(cache: Any, context: Any, messages: Any) -> Any:
        renders.append(context["link"])
        return render_anonymous(cache, context, messages)

    # A pass-through that counts: the page is rendered exactly as before.
    monkeypatch.setattr(share_page, "render_anonymous", counted)
    with serve(settings) as base:
        headers = await sign_up(base)
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as c:
            link = await khoj_share(c)
        limits = httpx.Limits(max_connections=VIEWERS)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as anon:
            pages = await asyncio.gather(*(anon.get(f"/s/{link}") for _ in range(VIEWERS)))
            again = await anon.get(f"/s/{link}")
    assert [p.status_code for p in pages] == [200] * VIEWERS
    assert len({p.headers["etag"] for p in pages}) == 1
    assert again.status_code == 200 and again.headers["etag"] == pages[0].headers["etag"]
    assert renders == [link]
