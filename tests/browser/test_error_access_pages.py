"""Error and access pages as a visitor meets them: share refusals that say what happened and
what to do, a login page that never shows text from its query (the logged-in-only link's
sentence is tested in ``test_share_page``), a live page losing its Clone and Download
controls when the link ends, and form posts that a reload never repeats (post/redirect/get)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, Request, expect

from salon.domain.shares import EXPIRED_DETAIL, NOT_FOUND_DETAIL, REVOKED_DETAIL
from tests.browser.conftest import PageWatch, SalonServer, sign_up
from tests.browser.test_share_page import api, owner_with_chat, share

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]
NEW_LINK_ADVICE = "Ask the person who shared it with you for a new link."


def expect_error_page(page: Page, *, status: int, title: str, detail: str) -> None:
    """The page names what happened in words (never a bare "410" / "Gone" heading)."""
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".error-detail")).to_have_text(detail)
    expect(page.locator(".error-code")).to_have_text(f"Error {status}")
    assert "Gone" not in page.locator("main").inner_text()


def test_share_refusals_say_what_happened_and_what_to_do(open_page: OpenPage,
                                                         salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "short lived")
    link = share(owner, salon, chat_id, max_views=1)
    viewer, _ = open_page()

    response = viewer.goto(f"{salon.url}/s/not-a-real-link")
    assert response is not None and response.status == 404
    expect_error_page(viewer, status=404, title="This shared chat does not exist",
                      detail=NOT_FOUND_DETAIL)
    expect(viewer.locator(".error-advice")).to_contain_text("Check the link for a typo")
    expect(viewer.get_by_role("link", name="Sign in")).to_have_attribute("href", "/login")

    viewer.goto(link["url"])
    response = viewer.reload()  # the one view was spent
    assert response is not None and response.status == 410
    expect_error_page(viewer, status=410, title="This link has expired", detail=EXPIRED_DETAIL)
    expect(viewer.locator(".error-advice")).to_have_text(NEW_LINK_ADVICE)

    api(owner, salon.url, "DELETE", f"/api/v1/chats/{chat_id}/share")
    member, _ = open_page()
    sign_up(member, salon.url, name="Rita")
    response = member.goto(link["url"])
    assert response is not None and response.status == 410
    expect_error_page(member, status=410, title="This link was revoked", detail=REVOKED_DETAIL)
    expect(member.locator(".error-advice")).to_have_text(NEW_LINK_ADVICE)
    member.get_by_role("link", name="Go to your chats").click()
    expect(member).to_have_url(f"{salon.url}/")


def test_an_unknown_page_says_so_and_leads_back(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    response = page.goto(f"{salon.url}/no-such-page")
    assert response is not None and response.status == 404
    expect_error_page(page, status=404, title="Page not found", detail="Not found.")
    expect(page.get_by_role("link", name="Go to your chats")).to_be_visible()


def test_the_login_page_never_shows_text_from_the_query(open_page: OpenPage,
                                                        salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)  # a server with users shows the login form
    visitor, _ = open_page()
    visitor.goto(f"{salon.url}/login?reason=Your+account+is+locked&next=%2Fs%2Fx")
    expect(visitor.get_by_role("heading", name="Log in")).to_be_visible()
    expect(visitor.locator(".login-reason")).to_have_count(0)
    assert "locked" not in visitor.content()


def test_a_live_page_drops_clone_and_download_when_the_link_ends(open_page: OpenPage,
                                                                 salon: SalonServer) -> None:
    owner, _ = open_page()
    sign_up(owner, salon.url, name="Lea")
    chat_id = api(owner, salon.url, "POST", "/api/chat", {
        "q": "read my notes", "stream": False,
        "files": [{"name": "notes.txt", "content": "hello file"}]})["conversationId"]
    link = share(owner, salon, chat_id, live=True)
    viewer, _ = open_page()
    # The stream is open (its "open" fetches what came since the page) before the link ends.
    with viewer.expect_response(lambda r: "/messages?after=" in r.url):
        viewer.goto(link["url"])
    expect(viewer.get_by_role("button", name="Clone chat")).to_be_visible()
    expect(viewer.get_by_role("link", name="Download all")).to_be_visible()
    expect(viewer.get_by_role("link", name="notes.txt")).to_have_count(2)  # message, files

    api(owner, salon.url, "DELETE", f"/api/v1/chats/{chat_id}/share")
    expect(viewer.locator("#live-notice")).to_have_text(REVOKED_DETAIL)
    expect(viewer.get_by_role("button", name="Clone chat")).to_have_count(0)
    expect(viewer.get_by_role("link", name="Download all")).to_have_count(0)
    expect(viewer.get_by_role("link", name="notes.txt")).to_have_count(0)
    # The chat stays readable, the file's name too.
    expect(viewer.locator("#messages article")).to_have_count(2)
    expect(viewer.locator("#messages")).to_contain_text("notes.txt")


def posts_to(page: Page) -> list[str]:
    """The URLs of every POST the page sends from now on."""
    posts: list[str] = []

    def note(request: Request) -> None:
        if request.method == "POST":
            posts.append(request.url)

    page.on("request", note)
    return posts


def test_reloading_after_creating_a_token_does_not_post_again(open_page: OpenPage,
                                                             salon: SalonServer) -> None:
    page, watch = open_page()
    sign_up(page, salon.url)
    page.goto(f"{salon.url}/settings")
    posts = posts_to(page)
    page.get_by_label("New token name").fill("laptop")
    with page.expect_navigation() as landed:
        page.get_by_role("button", name="Create token").click()
    response = landed.value
    assert response is not None and response.request.method == "GET"
    assert response.request.redirected_from is not None  # the post answered 303
    assert response.request.redirected_from.method == "POST"
    expect(page).to_have_url(f"{salon.url}/settings")
    assert page.get_by_label("Token secret").input_value().startswith("salon_")
    assert len(posts) == 1

    response = page.reload()
    assert response is not None and response.request.method == "GET"
    assert len(posts) == 1 and watch.dialogs == []  # no re-post, no "resubmit?" prompt
    expect(page.get_by_label("Token secret")).to_have_count(0)  # shown once


def test_reloading_after_an_import_does_not_post_again(open_page: OpenPage,
                                                       salon: SalonServer) -> None:
    owner, chat_id = owner_with_chat(open_page, salon, "carried over")
    exported = owner.request.get(f"{salon.url}/api/v1/chats/{chat_id}/export").body()
    page, _ = open_page()
    sign_up(page, salon.url)
    page.goto(f"{salon.url}/settings")
    posts = posts_to(page)
    page.get_by_label("File (JSON)").set_input_files(files=[{
        "name": "one.json", "mimeType": "application/json", "buffer": exported}])
    with page.expect_navigation() as landed:
        page.get_by_role("button", name="Import").click()
    assert landed.value is not None and landed.value.request.method == "GET"
    expect(page.get_by_role("status")).to_contain_text("one.json: 1 imported")
    response = page.reload()
    assert response is not None and response.request.method == "GET" and len(posts) == 1
    expect(page.get_by_text("one.json: 1 imported")).to_have_count(0)
    titles = [c["title"] for c in json.loads(
        page.request.get(f"{salon.url}/api/v1/chats/").text())]
    assert titles == ["carried over"]
