"""Hostile content is inert on the share page: script tags, event-handler attributes,
``javascript:`` and ``data:`` links, a malicious code-fence language, a title that tries to close
``<title>`` or an inline JSON island; and a remote image is never fetched by the viewer's
browser. Every attack sets a ``window.__pwned*`` flag or opens a dialog if it runs; the
``open_page`` fixture also fails the test on any dialog or console error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import PageWatch, SalonServer
from tests.browser.test_share_page import api, owner_with_chat, share

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]
BEACON_HOST = "127.0.0.1:9"  # nothing listens there; any attempt still shows as a request

HOSTILE_MARKDOWN = f"""<script>window.__pwned1 = 1; alert("script")</script>

<img src=x onerror="window.__pwned2 = 1; alert('img')">

<svg onload="window.__pwned3 = 1"></svg>

[a js link](javascript:window.__pwned4=1)

[a data link](data:text/html,<script>alert(5)</script>)

<a href="javascript:window.__pwned5=1">raw js link</a>

![tracking beacon](http://{BEACON_HOST}/beacon.png)

<img src="http://{BEACON_HOST}/raw-beacon.png">
"""
HOSTILE_FENCE = ('```"><script>window.__pwned6=1</script><b x="\n'
                 "print('fenced')\n```")
HOSTILE_TITLE = ('</title><script>window.__pwned7=1</script>'
                 '</script><script>window.__pwned8=1</script>{"x":"</script>"}')


def flags(page: Page) -> list[str]:
    set_flags: list[str] = page.evaluate(
        "Object.keys(window).filter((k) => k.startsWith('__pwned'))")
    return set_flags


def test_hostile_content_is_inert(open_page: OpenPage, salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, HOSTILE_MARKDOWN, HOSTILE_FENCE)
    api(owner, salon.url, "PATCH", "/api/chat/title",
        {"conversation_id": chat_id, "title": HOSTILE_TITLE})
    link = share(owner, salon, chat_id)
    viewer, _ = open_page()
    requests: list[str] = []
    viewer.on("request", lambda request: requests.append(_url(request)))
    viewer.goto(link["url"])
    expect(viewer.locator(".message-assistant").last).to_contain_text("Echo:")
    viewer.wait_for_load_state("networkidle")

    assert viewer.title() == f"{HOSTILE_TITLE} · Salon"  # shown as text, whole
    expect(viewer.get_by_role("heading", level=1)).to_have_text(HOSTILE_TITLE)
    user_message = viewer.locator(".message-user").first
    expect(user_message).to_contain_text("<script>window.__pwned1 = 1")  # shown, not run
    expect(viewer.get_by_role("link", name="Image: tracking beacon").first).to_be_visible()
    expect(viewer.locator(".message-user").nth(1)).to_contain_text("print('fenced')")

    own_scripts = viewer.locator("script[src]")
    for i in range(own_scripts.count()):
        assert (own_scripts.nth(i).get_attribute("src") or "").startswith("/static/")
    inline = viewer.locator("script:not([src])")
    for i in range(inline.count()):
        assert inline.nth(i).get_attribute("type") == "application/json"
    assert viewer.locator('[href^="javascript:" i], [href^="data:" i]').count() == 0
    assert viewer.locator("[onerror], [onload], [onclick], svg").count() == 0

    for name in ("a js link", "raw js link"):
        links = viewer.get_by_text(name, exact=True)
        if links.count():
            links.first.click()
    assert flags(viewer) == []
    assert viewer.url == link["url"]
    assert [url for url in requests if BEACON_HOST in url] == []
    assert all(url.startswith(salon.url) for url in requests), requests


def _url(request: Request) -> str:
    return request.url
