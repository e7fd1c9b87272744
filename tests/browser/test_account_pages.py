"""Account pages in a real browser: changing your password on the settings page, an admin
adding and deleting a user on the users page, and logging out (never by following a link)."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, PageWatch, SalonServer, sign_up

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]
NEW_PASSWORD = "a brand new secret"


@pytest.fixture(scope="module")
def own_salon(tmp_path_factory: pytest.TempPathFactory,
              fake_llm_url: str) -> Iterator[SalonServer]:
    """A Salon of this module's own, so its first sign-up is the admin whatever ran before."""
    server = SalonServer(data_dir=tmp_path_factory.mktemp("accounts"),
                         llm_base_url=f"{fake_llm_url}/v1")
    try:
        yield server.start()
    finally:
        server.stop()


def log_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_change_password_then_log_in_with_it(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    email = sign_up(page, salon.url)
    page.get_by_role("link", name="Settings").click()
    form = page.get_by_role("region", name="Password")

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("Confirm new password").fill(NEW_PASSWORD + "!")
    form.get_by_role("button", name="Change password").click()
    expect(form.get_by_role("alert")).to_have_text("The new passwords do not match.")
    expect(form.get_by_label("Confirm new password")).to_be_focused()

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(form.get_by_role("status")).to_have_text(
        "Password changed. Other devices were signed out.")
    page.reload()  # this browser is still signed in
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{salon.url}/login")
    log_in(page, salon.url, email, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("incorrect")
    log_in(page, salon.url, email, NEW_PASSWORD)
    page.wait_for_url(f"{salon.url}/")


def test_admin_adds_and_deletes_a_user(open_page: OpenPage, own_salon: SalonServer) -> None:
    admin, _ = open_page()
    sign_up(admin, own_salon.url, name="Admin")
    admin.get_by_role("link", name="Admin").click()
    expect(admin).to_have_url(f"{own_salon.url}/admin/users")

    email = f"carol-{uuid.uuid4().hex[:8]}@example.com"
    form = admin.get_by_role("region", name="Add user")
    form.get_by_label("Name").fill("Carol")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill("carol's password")
    form.get_by_label("Role").select_option("user")
    form.get_by_role("button", name="Add user").click()
    expect(form.get_by_role("status")).to_have_text(
        f"Added Carol ({email}) as a user. They can log in now.")
    carol_card = admin.get_by_role("region", name="Carol")
    expect(carol_card).to_contain_text(email)

    carol, _ = open_page()
    log_in(carol, own_salon.url, email, "carol's password")
    carol.wait_for_url(f"{own_salon.url}/")

    expect(admin.get_by_role("button", name="Delete Admin")).to_have_count(0)  # not yourself
    admin.get_by_role("button", name="Delete Carol").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Delete Carol ({email})?")
    expect(dialog).to_contain_text("Their conversations and files are deleted too.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(carol_card).to_be_visible()

    admin.get_by_role("button", name="Delete Carol").click()
    dialog.get_by_role("button", name="Yes, continue").click()
    expect(admin.get_by_role("status")).to_contain_text("The account was deleted")
    expect(admin.get_by_role("region", name="Carol")).to_have_count(0)

    carol.reload()  # Carol's session ended with her account
    expect(carol).to_have_url(re.compile(r"/login"))


@contextmanager
def other_site(html: str) -> Iterator[str]:
    """A page on another site (``localhost`` is not the same site as ``127.0.0.1``, where
    Salon answers), serving ``html``; yields its URL."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_link_from_another_site_asks_before_logging_out(
    open_page: OpenPage, salon: SalonServer
) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    link = f'<a href="{salon.url}/api/v1/auths/signout">See the prize</a>'
    with other_site(f"<!doctype html><title>Prize</title>{link}") as prize:
        page.goto(prize)
        page.get_by_role("link", name="See the prize").click()
        expect(page).to_have_url(f"{salon.url}/logout")
    expect(page.get_by_role("heading", name="Log out?")).to_be_visible()
    page.get_by_role("link", name="Stay logged in").click()
    expect(page).to_have_url(f"{salon.url}/")  # still logged in: the chat, not the login page
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.goto(f"{salon.url}/logout")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{salon.url}/login")
    page.goto(f"{salon.url}/")
    expect(page).to_have_url(re.compile(r"/login"))
