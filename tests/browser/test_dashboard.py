"""The Shared chats dashboard in a real browser: search, filters, sorting, pages, row and bulk
actions, the danger zone, copying links, a link expiring while the page is open, dragging a
sidebar chat onto the page, the page without JavaScript, and a phone's width.

Shares are made through the JSON API with the user's bearer token; the browser signs in with
the login form.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import PASSWORD, PageWatch, SalonServer

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]


@dataclass
class Owner:
    """A user made through the API, with a bearer-token client for setting up shares."""

    email: str
    http: httpx.Client

    def share(self, title: str, **options: Any) -> dict[str, Any]:
        r = self.http.post("/api/chat", json={"q": title, "title": title, "stream": False})
        assert r.status_code == 200, r.text
        chat_id = r.json()["conversationId"]
        r = self.http.post(f"/api/v1/chats/{chat_id}/share", json=options)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def revoke(self, chat_id: str) -> None:
        assert self.http.delete(f"/api/v1/chats/{chat_id}/share").status_code == 200

    def get_share(self, chat_id: str) -> dict[str, Any]:
        r = self.http.get(f"/api/v1/chats/{chat_id}/share")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def _user(salon: SalonServer) -> Iterator[Owner]:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    r = httpx.post(f"{salon.url}/api/v1/auths/signup",
                   json={"name": "Owner", "email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    with httpx.Client(base_url=salon.url, timeout=10,
                      headers={"Authorization": f"Bearer {r.json()['token']}"}) as http:
        yield Owner(email=email, http=http)


@pytest.fixture
def owner(salon: SalonServer) -> Iterator[Owner]:
    yield from _user(salon)


@pytest.fixture
def other(salon: SalonServer) -> Iterator[Owner]:
    """Someone else, whose exported chat the owner imports."""
    yield from _user(salon)


def log_in(page: Page, base_url: str, email: str, path: str = "/shared") -> None:
    page.goto(f"{base_url}/login?next={path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(f"{base_url}{path}")))


def shown_titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("tbody .title-cell").all_inner_texts()]


def row(page: Page, title: str) -> Any:
    return page.locator("tbody tr").filter(has=page.get_by_role("link", name=title, exact=True))


def zoo(owner: Owner) -> dict[str, dict[str, Any]]:
    made = {
        "alpha": owner.share("alpha report"),
        "bravo": owner.share("bravo notes", is_public=False, live=True),
        "charlie": owner.share("charlie report", password="pw-charlie"),
        "delta": owner.share("delta plan"),
    }
    owner.revoke(made["delta"]["chat_id"])
    return made


def viewed_zoo(owner: Owner, salon: SalonServer) -> dict[str, dict[str, Any]]:
    """The zoo, with "alpha report" opened once by an anonymous viewer (1 view)."""
    made = zoo(owner)
    httpx.get(f"{salon.url}/api/v1/chats/share/{made['alpha']['share_id']}").raise_for_status()
    return made


# --- finding shares ----------------------------------------------------------------------------

def test_search_filters_sorting_and_pages(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    zoo(owner)
    for n in range(8):
        owner.share(f"filler {n}")
    page, _ = open_page()
    log_in(page, salon.url, owner.email)
    expect(page.locator("#shared-count")).to_have_text("Showing 1–12 of 12 shared chats")

    page.get_by_label("Search titles").fill("report")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    assert sorted(shown_titles(page)) == ["alpha report", "charlie report"]
    page.get_by_role("link", name="Clear filters").first.click()
    expect(page.locator("tbody tr")).to_have_count(12)

    for label, option, expected in [
        ("Visibility", "Logged-in users", ["bravo notes"]),
        ("Password", "With password", ["charlie report"]),
        ("Status", "Revoked", ["delta plan"]),
        ("Type", "Live", ["bravo notes"]),
    ]:
        page.get_by_label(label, exact=True).select_option(label=option)  # submits by itself
        expect(page.locator("tbody tr")).to_have_count(len(expected))
        assert shown_titles(page) == expected
        page.get_by_role("link", name="Clear filters").first.click()
        expect(page.locator("tbody tr")).to_have_count(12)

    today = owner.get_share(zoo_chat(owner))["created_at"][:10]
    page.get_by_label("Shared from").fill(today)
    page.get_by_label("Shared until").fill(today)
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody tr")).to_have_count(13)  # zoo_chat added one
    page.get_by_label("Shared from").fill("2001-01-01")
    page.get_by_label("Shared until").fill("2001-01-02")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", name="No shares match these filters")).to_be_visible()
    page.get_by_role("link", name="Clear filters").first.click()

    title_header = page.get_by_role("columnheader", name="Title")
    title_header.get_by_role("link").click()
    expect(title_header).to_have_attribute("aria-sort", "ascending")
    expect(page.locator("tbody .title-cell").first).to_have_text("alpha report")
    page.get_by_role("columnheader", name="Title").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Title")).to_have_attribute(
        "aria-sort", "descending")
    expect(page.locator("tbody .title-cell").first).to_have_text("zoo extra")
    page.get_by_role("columnheader", name="Views").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Views")).to_have_attribute(
        "aria-sort", "ascending")
    expect(page.get_by_role("columnheader", name="Title")).not_to_have_attribute(
        "aria-sort", re.compile(".*"))

    page.get_by_label("Per page").select_option("10")
    expect(page.locator("tbody tr")).to_have_count(10)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    page.get_by_role("link", name="Next").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    assert "order_by=views" in page.url and "page_size=10" in page.url
    page.get_by_role("link", name="Previous").click()
    expect(page.locator("tbody tr")).to_have_count(10)


def zoo_chat(owner: Owner) -> str:
    """One more shared chat (created now), for its creation date; returns its chat id."""
    return str(owner.share("zoo extra")["chat_id"])


# --- actions -----------------------------------------------------------------------------------

def test_copy_revoke_restore_and_reset_a_row(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    made = viewed_zoo(owner, salon)
    page, _ = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=salon.url)
    log_in(page, salon.url, owner.email)
    alpha = row(page, "alpha report")

    alpha.get_by_role("button", name="Copy link").click()
    expect(alpha.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == made["alpha"]["url"]

    expect(alpha.locator("td.num").first).to_have_text("1")
    alpha.get_by_role("button", name="Reset stats").click()
    expect(page.locator("#live-notice")).to_have_text("Statistics reset for 1 shared chat.")
    expect(alpha.locator("td.num").first).to_have_text("0")

    alpha.get_by_role("button", name="Revoke").click()
    expect(page.locator("#live-notice")).to_have_text("Revoked 1 shared chat.")
    expect(alpha.locator(".status-badge")).to_have_text("Revoked")
    assert owner.get_share(made["alpha"]["chat_id"])["status"] == "revoked"

    alpha.get_by_role("button", name="Restore").click()
    expect(page.locator("#live-notice")).to_have_text("The link was restored.")
    expect(alpha.locator(".status-badge")).to_have_text("Active")
    assert owner.get_share(made["alpha"]["chat_id"])["status"] == "active"


def test_bulk_revoke_and_reset_selected(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    made = viewed_zoo(owner, salon)
    page, _ = open_page()
    log_in(page, salon.url, owner.email)
    revoke_selected = page.get_by_role("button", name="Revoke selected")
    expect(revoke_selected).to_be_disabled()
    row(page, "alpha report").get_by_role("checkbox").check()
    row(page, "bravo notes").get_by_role("checkbox").check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    expect(page.get_by_label("Select all shared chats on this page")).to_have_js_property(
        "indeterminate", True)
    revoke_selected.click()
    expect(page.locator("#live-notice")).to_have_text("Revoked 2 shared chats.")
    for title in ("alpha report", "bravo notes", "delta plan"):
        expect(row(page, title).locator(".status-badge")).to_have_text("Revoked")
    expect(row(page, "charlie report").locator(".status-badge")).to_have_text("Active")

    page.get_by_label("Select all shared chats on this page").check()
    expect(page.locator("#bulk-count")).to_have_text("4 selected")
    page.get_by_role("button", name="Reset stats for selected").click()
    expect(page.locator("#live-notice")).to_have_text("Statistics reset for 4 shared chats.")
    assert owner.get_share(made["alpha"]["chat_id"])["views"] == 0


def test_danger_zone_needs_the_typed_words(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    made = viewed_zoo(owner, salon)
    page, _ = open_page()
    log_in(page, salon.url, owner.email)
    zone = page.get_by_role("region", name="Danger zone")
    expect(zone).to_contain_text("requires typing \"REVOKE\" to confirm")
    revoke_all = zone.get_by_role("button", name="Revoke All")
    expect(revoke_all).to_be_disabled()
    zone.get_by_label("Type REVOKE to confirm").fill("revoke")
    expect(revoke_all).to_be_disabled()
    zone.get_by_label("Type REVOKE to confirm").fill("REVOKE")
    expect(revoke_all).to_be_enabled()
    revoke_all.click()
    expect(page.locator("#live-notice")).to_have_text("Revoked every link: 3 shared chats changed.")
    expect(page.locator("tbody .status-badge", has_text="Active")).to_have_count(0)
    expect(revoke_all).to_be_disabled()

    zone.get_by_label("Type RESET to confirm").fill("RESET")
    zone.get_by_role("button", name="Reset All Stats").click()
    expect(page.locator("#live-notice")).to_have_text(
        "Statistics reset for every share: 4 shared chats changed.")
    assert owner.get_share(made["alpha"]["chat_id"])["views"] == 0

    zone.get_by_label("Type CLEAR to confirm").fill("CLEAR")
    zone.get_by_role("button", name="Clear Revoked").click()
    expect(page.locator("#live-notice")).to_have_text("Cleared 4 shared chats from the dashboard.")
    expect(page.get_by_role("heading", name="No shared chats yet")).to_be_visible()


def test_a_link_flips_to_expired_without_a_reload(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    owner.share("short lived", expires_in=4)
    owner.share("long lived", expires_in=3600)
    page, _ = open_page()
    log_in(page, salon.url, owner.email, path="/shared?status=active")
    short = row(page, "short lived")
    expect(short.locator(".status-badge")).to_have_text("Active")
    expect(short.get_by_role("button", name="Restore")).to_be_hidden()
    expect(short.locator(".status-badge")).to_have_text("Expired", timeout=8000)
    expect(short).to_contain_text("No longer matches the Active filter")
    expect(short.get_by_role("button", name="Restore")).to_be_visible()
    expect(row(page, "long lived").locator(".status-badge")).to_have_text("Active")
    page.reload()
    expect(row(page, "short lived")).to_have_count(0)  # the server agrees


# --- drag and drop -----------------------------------------------------------------------------

def test_dragging_a_sidebar_chat_opens_its_share_dialog(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    shared = owner.share("already shared")
    r = owner.http.post("/api/chat", json={"q": "drag me", "title": "drag me", "stream": False})
    chat_id = r.json()["conversationId"]
    page, _ = open_page()
    log_in(page, salon.url, owner.email)
    expect(page.get_by_text("Drag a chat onto the page to share it, or drop a chat file "
                            "exported from Salon to import it and share it.")).to_be_visible()
    page.locator(f'#conversations a[data-id="{chat_id}"]').drag_to(
        page.locator(".dashboard-filters"))
    expect_share_dialog(page, "drag me")
    assert owner.get_share(shared["chat_id"])["status"] == "active"


def expect_share_dialog(page: Page, title: str) -> None:
    """The share dialog (static/share-dialog.js) is open for the chat titled ``title``."""
    dialog = page.locator("#share-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#share-chat-title")).to_have_text(title)
    expect(page).to_have_url(re.compile(r"/shared$"))


def test_modify_opens_the_share_dialog(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    owner.share("to modify")
    page, _ = open_page()
    log_in(page, salon.url, owner.email)
    row(page, "to modify").get_by_role("link", name="Modify", exact=True).click()
    expect_share_dialog(page, "to modify")


def drop_file(page: Page, name: str, text: str) -> None:
    """Drop a file holding ``text`` on the dashboard, as the desktop does."""
    page.evaluate("""([name, text]) => {
        const data = new DataTransfer();
        data.items.add(new File([text], name, {type: "application/json"}));
        const main = document.getElementById("main");
        main.dispatchEvent(new DragEvent("dragenter", {dataTransfer: data, bubbles: true,
                                                       cancelable: true}));
        main.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true,
                                                  cancelable: true}));
    }""", [name, text])


def test_dropping_an_exported_chat_imports_it_and_opens_the_dialog(
    open_page: OpenPage, salon: SalonServer, owner: Owner, other: Owner
) -> None:
    """A chat exported by someone else (or on another Salon) becomes one of yours, and its
    share dialog opens; the same file again opens the chat imported before."""
    r = other.http.post("/api/chat", json={"q": "travel plans", "title": "Travel plans",
                                           "stream": False})
    chat_id = r.json()["conversationId"]
    exported = other.http.get(f"/api/v1/chats/{chat_id}/export", params={"format": "json"})
    assert exported.status_code == 200, exported.text
    page, _ = open_page()
    log_in(page, salon.url, owner.email)
    drop_file(page, "travel-plans.salon.json", exported.text)
    expect(page.locator("#live-notice")).to_have_text("Imported “Travel plans” into your chats.")
    expect_share_dialog(page, "Travel plans")
    expect(page.locator("#drop-overlay")).to_be_hidden()
    page.locator("#share-dialog").get_by_role("button", name="Create link").click()
    expect(row(page, "Travel plans")).to_have_count(1)
    [mine] = [c for c in owner.http.get("/api/v1/chats/").json() if c["title"] == "Travel plans"]
    assert mine["id"] != chat_id
    page.keyboard.press("Escape")
    drop_file(page, "again.json", exported.text)
    expect(page.locator("#live-notice")).to_have_text(
        "again.json was imported before: here is that chat.")
    expect_share_dialog(page, "Travel plans")


def test_dropping_a_file_that_is_not_a_chat_says_why(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    owner.share("any")
    page, _ = open_page()
    log_in(page, salon.url, owner.email)
    drop_file(page, "notes.txt", "just some notes")
    expect(page.locator("#live-notice")).to_have_text(
        "notes.txt was not imported: it is not JSON.")
    drop_file(page, "chat.json", '{"title": "x"}')
    expect(page.locator("#live-notice")).to_contain_text(
        "chat.json was not imported: Salon imports its own conversation files")
    expect(page.locator("#drop-overlay")).to_be_hidden()
    expect(page.locator("#share-dialog")).to_be_hidden()
    expect(page).to_have_url(f"{salon.url}/shared")


def test_a_link_from_another_site_is_not_taken(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    chat_id = owner.share("mine")["chat_id"]
    page, _ = open_page()
    log_in(page, salon.url, owner.email)
    page.evaluate("""(chatId) => {
        const data = new DataTransfer();
        data.setData("text/uri-list", "https://evil.example/c/" + chatId);
        document.getElementById("main").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    }""", chat_id)
    expect(page.locator("#live-notice")).to_have_text("Drop a chat from the sidebar to share it.")
    expect(page.locator("dialog[open]")).to_have_count(0)


# --- without JavaScript, and on a phone ----------------------------------------------------------

@pytest.fixture
def no_js(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def test_everything_works_without_javascript(
    no_js: BrowserContext, salon: SalonServer, owner: Owner
) -> None:
    made = zoo(owner)
    page = no_js.new_page()
    log_in(page, salon.url, owner.email)
    page.get_by_label("Status", exact=True).select_option(label="Active")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    row(page, "alpha report").get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status").first).to_have_text("Revoked 1 shared chat.")
    assert "status=active" in page.url
    expect(page.locator("tbody tr")).to_have_count(2)
    assert owner.get_share(made["alpha"]["chat_id"])["status"] == "revoked"

    row(page, "bravo notes").get_by_role("checkbox").check()
    row(page, "charlie report").get_by_role("checkbox").check()
    page.get_by_role("button", name="Revoke selected").click()
    expect(page.get_by_role("status").first).to_have_text("Revoked 2 shared chats.")

    zone = page.get_by_role("region", name="Danger zone")
    zone.get_by_label("Type CLEAR to confirm").fill("clear")
    zone.get_by_role("button", name="Clear Revoked").click()
    expect(page.get_by_role("alert")).to_have_text('Type "CLEAR" to confirm; nothing was changed.')
    page.get_by_role("region", name="Danger zone").get_by_label("Type CLEAR to confirm").fill(
        "CLEAR")
    page.get_by_role("region", name="Danger zone").get_by_role(
        "button", name="Clear Revoked").click()
    expect(page.get_by_role("status").first).to_have_text(
        "Cleared 4 shared chats from the dashboard.")


def test_phone_width_scrolls_the_table_not_the_page(
    open_page: OpenPage, salon: SalonServer, owner: Owner
) -> None:
    zoo(owner)
    page, _ = open_page(width=390, height=800)
    log_in(page, salon.url, owner.email)
    expect(page.locator("tbody tr")).to_have_count(4)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    wrap = page.locator(".dashboard-table-wrap")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    page.get_by_role("button", name="Show conversations").click()
    expect(page.locator("#sidebar")).to_be_visible()
