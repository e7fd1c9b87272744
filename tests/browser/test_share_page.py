"""The share viewer page in a real browser: an owner shares through the API, a second
(anonymous) browser context opens the link; the password form; logging in to see a
logged-in-only share; logging in to clone, after which the clone happens by itself; error pages.
The ``open_page`` fixture fails any test whose pages logged an error (CSP violations included)
or showed a JavaScript dialog."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, PageWatch, SalonServer, sign_up

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]


def api(page: Page, base: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A JSON API call with this page's session (cookie and CSRF token), as our scripts do."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    r = page.request.fetch(f"{base}{path}", method=method,
                           data=json.dumps(body) if body is not None else None,
                           headers={"Content-Type": "application/json", "X-CSRF-Token": token,
                                    "Origin": base})
    assert r.ok, r.text()
    result: dict[str, Any] = r.json()
    return result


def owner_with_chat(open_page: OpenPage, salon: SalonServer, *questions: str,
                    name: str = "Olivia") -> tuple[Page, str]:
    """A new account (in its own browser context) with one chat: (its page, the chat id)."""
    page, _ = open_page()
    sign_up(page, salon.url, name=name)
    chat_id: str | None = None
    for q in questions:
        fields = {"conversation_id": chat_id} if chat_id else {}
        chat_id = api(page, salon.url, "POST", "/api/chat",
                      {"q": q, "stream": False, **fields})["conversationId"]
    assert chat_id is not None
    return page, chat_id


def share(page: Page, salon: SalonServer, chat_id: str, **options: Any) -> dict[str, Any]:
    return api(page, salon.url, "POST", f"/api/v1/chats/{chat_id}/share", options)


def log_in(page: Page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_anonymous_viewer_opens_the_link(open_page: OpenPage, salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "What is a share?",
                                     "Show me code\n\n```python\nprint('hi')\n```")
    link = share(owner, salon, chat_id, display_username=True, max_views=10)
    viewer, _ = open_page()
    response = viewer.goto(link["url"])
    assert response is not None and response.status == 200
    expect(viewer).to_have_title("What is a share? · Salon")
    expect(viewer.get_by_role("heading", level=1)).to_have_text("What is a share?")
    expect(viewer.locator(".message-assistant").first).to_contain_text("Echo: What is a share?")
    expect(viewer.locator(".codeblock-copy")).to_have_count(1)  # the chat page's code blocks
    expect(viewer.locator(".share-owner")).to_have_count(0)  # the owner: logged-in viewers only
    expect(viewer.get_by_text("Chat recipe")).to_have_count(0)
    expect(viewer.get_by_role("link", name="Clone chat")).to_be_visible()
    viewer.reload()
    after = api(owner, salon.url, "GET", f"/api/v1/chats/{chat_id}/share")
    assert after["views"] == 2 and after["status"] == "active"

    member, _ = open_page()
    sign_up(member, salon.url, name="Mia")
    member.goto(link["url"])
    expect(member.locator(".share-owner-name")).to_have_text("Olivia")
    recipe = member.locator("details.share-recipe")
    expect(recipe.locator("dl")).to_be_hidden()  # closed until asked
    recipe.locator("summary").click()
    expect(recipe).to_contain_text("fake-model")
    expect(member.get_by_role("button", name="Clone chat")).to_be_visible()


def test_phone_width_has_no_sideways_scroll(open_page: OpenPage, salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "a " * 80 + "longwordwithoutbreaks" * 8)
    link = share(owner, salon, chat_id)
    phone, _ = open_page(width=375, height=740)
    phone.goto(link["url"])
    expect(phone.locator(".message-user")).to_be_visible()
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    phone.keyboard.press("Tab")  # the skip link, then the page's own links
    expect(phone.locator(".skip-link")).to_be_focused()


def test_live_share_shows_new_turns_on_reload(open_page: OpenPage, salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "first live turn")
    link = share(owner, salon, chat_id, live=True)
    viewer, _ = open_page()
    viewer.goto(link["url"])
    expect(viewer.locator(".share-kicker")).to_have_text("Shared chat · live")
    api(owner, salon.url, "POST", "/api/chat",
        {"q": "second live turn", "stream": False, "conversation_id": chat_id})
    viewer.reload()
    expect(viewer.locator(".message-assistant").last).to_contain_text("Echo: second live turn")


def test_password_flow(open_page: OpenPage, salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "behind a password")
    link = share(owner, salon, chat_id, password="open sesame")
    viewer, _ = open_page()
    response = viewer.goto(link["url"])
    assert response is not None and response.status == 401
    expect(viewer.get_by_text("This shared chat is password-protected.")).to_be_visible()
    expect(viewer.get_by_text("behind a password")).to_have_count(0)
    viewer.get_by_label("Password").fill("wrong guess")
    viewer.get_by_role("button", name="Unlock").click()
    expect(viewer.get_by_role("alert")).to_have_text("The password is incorrect.")
    viewer.get_by_label("Password").fill("open sesame")
    viewer.get_by_role("button", name="Unlock").click()
    expect(viewer).to_have_url(link["url"])
    expect(viewer.locator(".message-assistant")).to_contain_text("Echo: behind a password")
    viewer.reload()  # the unlock lasts
    expect(viewer.locator(".message-assistant")).to_contain_text("Echo: behind a password")


def test_login_required_flow_returns_to_the_share(open_page: OpenPage,
                                                  salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "members only")
    link = share(owner, salon, chat_id, is_public=False)
    member, _ = open_page()
    email = sign_up(member, salon.url, name="Max")
    viewer, _ = open_page()
    viewer.goto(link["url"])
    expect(viewer).to_have_url(re.compile(r"/login\?next=%2Fs%2F"))
    log_in(viewer, email)
    expect(viewer).to_have_url(link["url"])
    expect(viewer.locator(".message-assistant")).to_contain_text("Echo: members only")


def test_anonymous_clone_logs_in_and_clones_by_itself(open_page: OpenPage,
                                                      salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "clone this one")
    link = share(owner, salon, chat_id)
    member, _ = open_page()
    email = sign_up(member, salon.url, name="Cleo")
    viewer, _ = open_page()
    viewer.goto(link["url"])
    viewer.get_by_role("link", name="Clone chat").click()
    expect(viewer).to_have_url(re.compile(r"/login\?next=.*clone%3D1"))
    log_in(viewer, email)
    expect(viewer).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    expect(viewer.locator("#chat-title")).to_have_text("Clone of clone this one")
    expect(viewer.locator(".message-assistant")).to_contain_text("Echo: clone this one")
    viewer.go_back()  # the share page again, without cloning a second time
    expect(viewer).to_have_url(link["url"])
    expect(viewer.get_by_role("button", name="Clone chat")).to_be_visible()
    after = api(owner, salon.url, "GET", f"/api/v1/chats/{chat_id}/share")
    assert after["clones"] == 1


def test_logged_in_clone_button(open_page: OpenPage, salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "copy me")
    link = share(owner, salon, chat_id)
    member, _ = open_page()
    sign_up(member, salon.url, name="Nia")
    member.goto(link["url"])
    member.get_by_role("button", name="Clone chat").click()
    expect(member).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    expect(member.locator("#chat-title")).to_have_text("Clone of copy me")


def test_error_pages(open_page: OpenPage, salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "short lived")
    link = share(owner, salon, chat_id, max_views=1)
    viewer, _ = open_page()
    response = viewer.goto(f"{salon.url}/s/not-a-real-link")
    assert response is not None and response.status == 404
    expect(viewer.locator(".error-detail")).to_have_text(
        "Oops! The shared link you're trying to access doesn't exist. It might have been "
        "deleted or there might be a typo in the URL.")
    viewer.goto(link["url"])
    response = viewer.reload()
    assert response is not None and response.status == 410
    expect(viewer.locator(".error-detail")).to_have_text(
        "This shared link has expired and is no longer accessible.")
    api(owner, salon.url, "DELETE", f"/api/v1/chats/{chat_id}/share")
    response = viewer.goto(f"{salon.url}/share/{link['share_id']}")  # an old link shape
    assert response is not None and response.status == 410
    expect(viewer).to_have_url(link["url"])
    expect(viewer.locator(".error-detail")).to_have_text(
        "The owner of this chat has revoked this sharing link.")
