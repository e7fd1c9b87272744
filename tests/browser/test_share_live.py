"""A live share in two browsers: the owner chats on the chat page while an anonymous viewer of
the share watches the new turn arrive, word by word, without reloading; revoking the link
closes the viewer's stream and the page says the link was revoked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from salon.domain.shares import REVOKED_DETAIL
from tests.browser.conftest import PageWatch, SalonServer, sign_up
from tests.browser.test_chat_page import ask, conversation_id

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]


def api(page: Page, base: str, method: str, path: str, body: Any = None) -> Any:
    """A JSON API call with the page's session (cookie and CSRF token)."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    response = page.request.fetch(f"{base}{path}", method=method, data=body, headers={
        "X-CSRF-Token": token, "Origin": base, "Content-Type": "application/json"})
    assert response.ok, response.text()
    return response.json()


def shared_chat(
    open_page: OpenPage, base: str, question: str, options: dict[str, Any]
) -> tuple[Page, str, Any]:
    """An owner signed up on a page, a chat with one question and answer, shared with
    ``options``: (the owner's page, the chat's id, the share)."""
    owner, _ = open_page()
    sign_up(owner, base)
    ask(owner, question)
    chat_id = conversation_id(owner)
    return owner, chat_id, api(owner, base, "POST", f"/api/v1/chats/{chat_id}/share", options)


def test_the_viewer_sees_new_turns_and_the_link_ending(
    open_page: OpenPage, slow_salon: SalonServer
) -> None:
    owner, chat_id, share = shared_chat(open_page, slow_salon.url, "Plan the trip",
                                        {"live": True})

    viewer, _ = open_page()
    viewer.goto(share["url"])
    expect(viewer.locator(".share-kicker")).to_have_text("Shared chat · live")
    expect(viewer.locator("#messages article")).to_have_count(2)
    expect(viewer.locator("#main")).to_have_attribute("data-listening", "true")
    viewer.evaluate("() => { window.stillTheSamePage = true; }")

    owner.get_by_label("Message").fill("Add a day in Lisbon")
    owner.get_by_label("Message").press("Enter")
    # The question, then the answer while it is being written (the model is slow)...
    expect(viewer.locator("#messages")).to_contain_text("Add a day in Lisbon")
    expect(viewer.locator(".message-streaming")).to_contain_text("Echo:")
    # ...then the stored answer, rendered like the rest of the page.
    expect(viewer.locator("#messages article")).to_have_count(4, timeout=15_000)
    expect(viewer.locator("#messages article").last).to_contain_text(
        "Echo: Add a day in Lisbon")
    expect(viewer.locator(".message-streaming")).to_have_count(0)
    assert viewer.evaluate("() => window.stillTheSamePage") is True

    api(owner, slow_salon.url, "DELETE", f"/api/v1/chats/{chat_id}/share")
    expect(viewer.locator("#live-notice")).to_have_text(REVOKED_DETAIL)
    assert viewer.evaluate("() => window.stillTheSamePage") is True
    views = api(owner, slow_salon.url, "GET", f"/api/v1/chats/{chat_id}/share")["views"]
    assert views == 1  # the page load; events and fetches are not views


def test_a_snapshot_page_does_not_listen(open_page: OpenPage, salon: SalonServer) -> None:
    _, _, share = shared_chat(open_page, salon.url, "Frozen in time", {})
    viewer, _ = open_page()
    requests: list[str] = []
    viewer.on("request", lambda r: requests.append(r.url))
    viewer.goto(share["url"])
    expect(viewer.locator("#messages article")).to_have_count(2)
    assert not [u for u in requests if u.endswith("/events")]
    expect(viewer.locator("#main")).not_to_have_attribute("data-listening", "true")
