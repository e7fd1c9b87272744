"""The share dialog's third visibility, "Only me" (spec 004's Private), in a real browser:
chosen, it shares the chat with its owner alone (everyone else is told the link does not
exist); the dialog shows it again when reopened; switching back to Public gives a new link and
the old one stays dead. And a chat without messages: the dialog says why it cannot be shared."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SalonServer, sign_up
from tests.browser.test_share_dialog import OpenPage, api_share, open_from_header, start_chat

pytestmark = pytest.mark.browser


def test_only_me_in_the_dialog(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    chat_id = start_chat(page, salon, "Just for me")
    dialog = open_from_header(page)
    expect(dialog.get_by_label("Public: anyone with the link")).to_be_checked()
    dialog.get_by_label("Only me").check()
    expect(dialog.get_by_label("Public: anyone with the link")).not_to_be_checked()
    dialog.get_by_role("button", name="Create link").click()
    expect(dialog.locator("#share-state")).to_contain_text("only you can open it")
    share = api_share(page, chat_id)
    assert (share["visibility"], share["is_public"]) == ("only_me", False)
    private_url = share["url"]

    stranger, _ = open_page()
    r = stranger.goto(private_url)
    assert r is not None and r.status == 404
    expect(stranger.locator("body")).to_contain_text("doesn't exist")
    r = page.request.get(private_url)  # the owner still sees it
    assert r.status == 200 and "Just for me" in r.text()

    page.keyboard.press("Escape")
    page.reload()
    dialog = open_from_header(page)
    expect(dialog.get_by_label("Only me")).to_be_checked()
    dialog.get_by_label("Logged-in users only").check()
    dialog.get_by_role("button", name="Update link settings").click()
    expect(dialog.locator("#share-state")).to_contain_text("Link settings updated.")
    expect(dialog.locator("#share-state")).not_to_contain_text("only you")
    again = api_share(page, chat_id)
    assert again["visibility"] == "private" and again["url"] != private_url
    expect(dialog.locator("#share-url")).to_have_value(again["url"])
    r = stranger.goto(private_url)
    assert r is not None and r.status == 404
    r = stranger.goto(again["url"])  # logged-in users only: sent to log in
    assert r is not None
    expect(stranger).to_have_url(re.compile(r"/login\?next="))


def test_an_empty_chat_cannot_be_shared(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    r = page.request.post(f"{salon.url}/api/chat/sessions", headers={"X-CSRF-Token": token})
    assert r.status == 200, r.text()
    chat_id = r.json()["conversation_id"]
    page.goto(f"{salon.url}/c/{chat_id}")
    dialog = open_from_header(page)
    dialog.get_by_role("button", name="Create link").click()
    expect(dialog.locator("#share-error")).to_have_text(
        "This chat has no messages to share yet: send a message first, then share it.")
    assert page.request.get(f"{salon.url}/api/v1/chats/{chat_id}/share").status == 404
