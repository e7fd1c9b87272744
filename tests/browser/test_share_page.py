"""The share viewer page in a real browser: an owner shares through the API, a second
(anonymous) browser context opens the link; the password form; logging in to see a
logged-in-only share; logging in to clone, after which the page asks before cloning (and a
?clone=1 in a URL never clones); error pages.
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
from tests.web.test_share_viewing_api import PNG_URL

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
    expect(viewer.get_by_role("button", name="Clone chat")).to_be_visible()
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


def test_the_one_view_of_a_link_shows_its_images_and_files(open_page: OpenPage,
                                                           salon: SalonServer) -> None:
    """A max_views=1 link: its one viewer gets the page *and* its images and ZIP (the view's
    grant); nobody else gets anything, and one view is counted."""
    owner, _ = open_page()
    sign_up(owner, salon.url, name="Ines")
    chat_id = api(owner, salon.url, "POST", "/api/chat",
                  {"q": "look at this", "stream": False, "images": [PNG_URL],
                   "files": [{"name": "notes.txt", "content": "hello file"}]})["conversationId"]
    link = share(owner, salon, chat_id, max_views=1)
    viewer, _ = open_page()
    viewer.goto(link["url"])
    image = viewer.locator(".message-user img").first
    expect(image).to_be_visible()
    viewer.wait_for_function("img => img.complete && img.naturalWidth > 0",
                             arg=image.element_handle())
    files = f"{salon.url}/api/v1/chats/share/{link['share_id']}/files"
    archive = viewer.request.get(f"{files}.zip")  # the page's cookies
    assert archive.status == 200 and archive.body()[:2] == b"PK"
    other, _ = open_page()
    response = other.goto(link["url"])
    assert response is not None and response.status == 410
    assert other.request.get(f"{files}/0").status == 410
    assert api(owner, salon.url, "GET", f"/api/v1/chats/{chat_id}/share")["views"] == 1


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
    reason = viewer.locator(".login-reason")  # said above the form
    expect(reason).to_have_text("Sign in to view this shared chat.")
    above, form = reason.bounding_box(), viewer.get_by_label("Email").bounding_box()
    assert above is not None and form is not None and above["y"] < form["y"]
    viewer.get_by_label("Email").fill(email)
    viewer.get_by_label("Password").fill("not the password")
    viewer.get_by_role("button", name="Log in").click()
    expect(viewer.locator("#form-error")).to_be_visible()
    expect(reason).to_have_text("Sign in to view this shared chat.")  # still said
    log_in(viewer, email)
    expect(viewer).to_have_url(link["url"])
    expect(viewer.locator(".message-assistant")).to_contain_text("Echo: members only")


def test_anonymous_clone_logs_in_comes_back_and_asks(open_page: OpenPage,
                                                     salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "clone this one")
    link = share(owner, salon, chat_id)
    member, _ = open_page()
    email = sign_up(member, salon.url, name="Cleo")
    viewer, _ = open_page()
    viewer.goto(link["url"])
    viewer.get_by_role("button", name="Clone chat").click()
    expect(viewer).to_have_url(f"{salon.url}/login?next=%2Fs%2F{link['share_id']}&reason=clone")
    log_in(viewer, email)
    expect(viewer).to_have_url(link["url"])
    question = viewer.get_by_role("region", name="Clone this chat into your account?")
    expect(question).to_be_visible()
    viewer.wait_for_load_state("networkidle")
    assert api(owner, salon.url, "GET", f"/api/v1/chats/{chat_id}/share")["clones"] == 0
    question.get_by_role("button", name="Clone chat").click()
    expect(viewer).to_have_url(re.compile(r"/c/[0-9a-f-]{36}$"))
    expect(viewer.locator("#chat-title")).to_have_text("Clone of clone this one")
    expect(viewer.locator(".message-assistant")).to_contain_text("Echo: clone this one")
    viewer.go_back()  # the share page again: no question, no second clone
    expect(viewer).to_have_url(link["url"])
    expect(viewer.get_by_role("button", name="Clone chat")).to_be_visible()
    expect(viewer.get_by_text("Clone this chat into your account?")).to_have_count(0)
    after = api(owner, salon.url, "GET", f"/api/v1/chats/{chat_id}/share")
    assert after["clones"] == 1


@pytest.mark.parametrize("path", ["/s/{id}?clone=1", "/login?next=%2Fs%2F{id}%3Fclone%3D1"])
def test_a_clone_flag_in_a_link_never_clones(open_page: OpenPage, salon: SalonServer,
                                            path: str) -> None:
    """Another site sends a signed-in visitor to the share with ?clone=1 (directly or through
    the login page): the page shows, and nothing is cloned by itself."""
    owner, chat_id = owner_with_chat(open_page, salon, "do not plant me")
    link = share(owner, salon, chat_id)
    member, _ = open_page()
    sign_up(member, salon.url, name="Vic")
    member.goto(salon.url + path.format(id=link["share_id"]), wait_until="networkidle")
    expect(member.locator(".message-assistant")).to_contain_text("Echo: do not plant me")
    member.wait_for_load_state("networkidle")
    assert "/s/" in member.url
    expect(member.get_by_text("Clone this chat into your account?")).to_have_count(0)
    assert api(owner, salon.url, "GET", f"/api/v1/chats/{chat_id}/share")["clones"] == 0


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
