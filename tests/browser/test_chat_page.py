"""The chat page in a real browser: sign-up, streaming, rename, delete, isolation, safety."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch, SalonServer, sign_up

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]
ANSWER = ".message-assistant .part-text"


def ask(page: Page, question: str) -> None:
    """Type a question, press Enter, and wait until the final answer is rendered."""
    page.get_by_label("Message").fill(question)
    page.get_by_label("Message").press("Enter")
    wait_for_answer(page)


def wait_for_answer(page: Page) -> None:
    expect(page.locator("#send-button")).to_be_visible(timeout=15_000)
    expect(page.locator("#messages .streaming-text")).to_have_count(0)
    expect(page.locator(ANSWER).last).to_contain_text("Echo:")


def tiny_png() -> bytes:
    """A valid 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def conversation_id(page: Page) -> str:
    match = re.search(r"/c/([0-9a-f-]{36})$", page.url)
    assert match, page.url
    return match.group(1)


def test_first_visit_signs_up_and_answer_streams(open_page: OpenPage,
                                                 slow_salon: SalonServer) -> None:
    page, _ = open_page()
    page.goto(slow_salon.url)
    expect(page).to_have_url(f"{slow_salon.url}/signup")
    expect(page.get_by_role("heading", name="Welcome to Salon")).to_be_visible()
    sign_up(page, slow_salon.url, name="Ada")

    page.get_by_label("Message").fill("Tell me about streams")
    page.get_by_label("Message").press("Enter")
    streaming = page.locator(".message-assistant .streaming-text")
    expect(streaming).to_contain_text("Echo: Tell me")
    partial = streaming.inner_text()
    expect(page.locator("#stop-button")).to_be_visible()  # still streaming
    wait_for_answer(page)

    final = page.locator(ANSWER).last.inner_text()
    assert final.startswith("Echo: Tell me about streams")
    assert len(partial) < len(final), (partial, final)
    assert page.url == f"{slow_salon.url}/c/{conversation_id(page)}"
    sidebar_link = page.locator("#conversations a", has_text="Tell me about streams")
    expect(sidebar_link).to_have_attribute("aria-current", "page")
    expect(page).to_have_title("Tell me about streams · Salon")

    page.reload()  # the answer was stored and renders the same from the server
    expect(page.locator(ANSWER).last).to_have_text(final)


def test_stop_keeps_the_partial_answer(open_page: OpenPage, slow_salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, slow_salon.url)
    page.get_by_label("Message").fill("Stop me early")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".message-assistant .streaming-text")).to_contain_text("Echo: Stop")
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".message-assistant")).to_contain_text("Stopped.")
    expect(page.locator("#send-button")).to_be_visible()
    expect(page.get_by_label("Message")).to_be_focused()

    # The server stores what was streamed as an interrupted answer.
    for _ in range(50):
        page.reload()
        if page.locator(".status-interrupted").count():
            break
        page.wait_for_timeout(100)
    expect(page.locator(".status-interrupted")).to_contain_text("This answer was interrupted.")
    expect(page.locator(ANSWER).last).to_contain_text("Echo: Stop")


def test_enter_sends_and_shift_enter_adds_a_line(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    box = page.get_by_label("Message")
    box.click()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    expect(page.locator("article.message")).to_have_count(0)

    page.keyboard.press("Enter")
    wait_for_answer(page)
    expect(box).to_have_value("")
    expect(page.locator(".message-user")).to_have_count(1)
    expect(page.locator(".message-user")).to_contain_text("second line")
    expect(page.locator(ANSWER)).to_have_text("Echo: first line second line")


def test_follow_up_stays_in_the_conversation(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    ask(page, "one")
    first_url = page.url
    ask(page, "two")
    assert page.url == first_url
    expect(page.locator(ANSWER)).to_have_text(["Echo: one", "Echo: two"])
    expect(page.locator("#conversations a")).to_have_count(1)


def test_rename_and_delete(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    ask(page, "Rename me")
    conv_url = page.url

    page.get_by_role("button", name="Rename").click()
    dialog = page.locator("#rename-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Title").fill("Renamed <b>chat</b>")
    dialog.get_by_label("Title").press("Enter")  # the keyboard saves
    expect(dialog).to_be_hidden()
    expect(page.locator("#chat-title")).to_have_text("Renamed <b>chat</b>")
    expect(page.locator("#conversations a", has_text="Renamed <b>chat</b>")).to_have_count(1)
    page.reload()
    expect(page).to_have_title("Renamed <b>chat</b> · Salon")

    page.get_by_role("button", name="Delete").click()
    confirm = page.locator("#delete-dialog")
    expect(confirm).to_contain_text("Renamed <b>chat</b>")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert page.url == conv_url

    page.get_by_role("button", name="Delete").click()
    confirm.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{salon.url}/")
    expect(page.locator("#conversations a")).to_have_count(0)
    response = page.goto(conv_url)
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


def test_another_user_sees_nothing_of_the_first(open_page: OpenPage, salon: SalonServer) -> None:
    alice, _ = open_page()
    sign_up(alice, salon.url, name="Alice")
    ask(alice, "Alice's secret plans")
    secret_id = conversation_id(alice)

    bob, _ = open_page()
    sign_up(bob, salon.url, name="Bob")
    expect(bob.locator("#conversations a")).to_have_count(0)
    expect(bob.locator("#conversations")).to_contain_text("No conversations yet")
    response = bob.goto(f"{salon.url}/c/{secret_id}")
    assert response is not None and response.status == 404
    expect(bob.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(bob.locator("body")).not_to_contain_text("secret plans")
    fragment = bob.goto(f"{salon.url}/c/{secret_id}/messages")
    assert fragment is not None and fragment.status == 404


def test_hostile_markdown_is_shown_not_run(open_page: OpenPage, salon: SalonServer) -> None:
    page, watch = open_page()
    sign_up(page, salon.url)
    hostile = ('<img src=x onerror="window.pwned=1;alert(1)"> '
               "<script>window.pwned=2;alert(2)</script> [link](javascript:alert(3))")
    ask(page, hostile)
    expect(page.locator(".message-user")).to_contain_text('<img src=x onerror="window.pwned=1')
    expect(page.locator(ANSWER)).to_contain_text("<script>window.pwned=2")
    assert page.locator("#messages img").count() == 0
    assert page.locator("#messages script").count() == 0
    assert page.locator('#messages a[href^="javascript"]').count() == 0
    page.reload()
    expect(page.locator(ANSWER)).to_contain_text("onerror")
    assert page.evaluate("window.pwned") is None
    assert watch.dialogs == []


def test_code_blocks_have_a_copy_button(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=salon.url)
    sign_up(page, salon.url)
    ask(page, "Why does this fail?\n```python\nprint('hi')\nx = 1 / 0\n```")
    button = page.locator(".message-user .codeblock .codeblock-copy")
    expect(button).to_have_count(1)
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "print('hi')\nx = 1 / 0\n"
    page.reload()  # server-rendered blocks get the button too
    expect(page.locator(".message-user .codeblock-copy")).to_have_count(1)


def test_attach_a_text_file(open_page: OpenPage, salon: SalonServer, tmp_path: Path) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    notes = tmp_path / "notes.txt"
    notes.write_text("remember the milk\n")
    page.locator("#file-input").set_input_files(str(notes))
    chip = page.locator("#attachments .chip")
    expect(chip).to_contain_text("notes.txt")
    page.get_by_role("button", name="Remove notes.txt").click()
    expect(chip).to_have_count(0)
    page.locator("#file-input").set_input_files(str(notes))
    ask(page, "Summarise the file")
    link = page.locator(".message-user .part-file a")
    expect(link).to_have_text("notes.txt")
    expect(page.locator(".message-user .file-meta")).to_contain_text("text/plain")
    href = link.get_attribute("href")
    assert href is not None
    assert page.request.get(f"{salon.url}{href}").text() == "remember the milk\n"


def test_attach_an_image(open_page: OpenPage, salon: SalonServer, tmp_path: Path) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    picture = tmp_path / "dot.png"
    picture.write_bytes(tiny_png())
    page.locator("#file-input").set_input_files(str(picture))
    expect(page.locator("#attachments .chip img")).to_have_count(1)  # a local preview
    ask(page, "What is in the picture?")
    image = page.locator(".message-user .part-image img")
    expect(image).to_have_attribute("src", re.compile(r"^/api/v1/files/[^/]+/content$"))
    assert image.evaluate("img => img.complete && img.naturalWidth") == 1


def test_refused_message_stays_in_the_composer(open_page: OpenPage,
                                               salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    too_long = "x" * 100_001
    box = page.get_by_label("Message")
    box.fill(too_long)
    box.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("longer than 100000 characters")
    expect(box).to_have_value(too_long)
    expect(page.locator("article.message")).to_have_count(0)
    assert page.url == f"{salon.url}/"


def test_model_failure_is_shown(open_page: OpenPage, failing_salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, failing_salon.url)
    # The live error is replaced by the stored answer within moments: record that it showed.
    page.evaluate("""() => new MutationObserver((changes) => {
        for (const change of changes) for (const node of change.addedNodes)
            if (node.classList?.contains("message-error")) window.sawError = node.textContent;
    }).observe(document.getElementById("messages"), {childList: true, subtree: true})""")
    page.get_by_label("Message").fill("Will this work?")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".message-assistant .message-note-error")).to_contain_text(
        "could not finish")
    expect(page.locator("#send-button")).to_be_visible()
    assert "unavailable" in page.evaluate("window.sawError")
    expect(page.locator(".message-assistant")).to_contain_text("⚠️")


def test_phone_layout_hides_the_sidebar_behind_a_menu(open_page: OpenPage,
                                                      salon: SalonServer) -> None:
    page, _ = open_page(width=390, height=844)
    sign_up(page, salon.url)
    ask(page, "From my phone")
    sidebar = page.locator("#sidebar")
    expect(sidebar).not_to_be_in_viewport()
    menu = page.get_by_role("button", name="Show conversations")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(sidebar).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(sidebar).not_to_be_in_viewport()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"


def test_anonymous_visitor_is_sent_to_log_in_and_back(open_page: OpenPage,
                                                      salon: SalonServer) -> None:
    page, _ = open_page()
    email = sign_up(page, salon.url)
    ask(page, "Come back here")
    url = page.url
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{salon.url}/login")

    page.goto(url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("incorrect")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url)
    expect(page.locator(ANSWER)).to_have_text("Echo: Come back here")


def test_settings_token_is_shown_once_and_revoked(open_page: OpenPage,
                                                  salon: SalonServer) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("New token name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Token secret").input_value()
    assert secret.startswith("salon_")
    me = page.request.get(f"{salon.url}/api/v1/auths/",
                          headers={"Authorization": f"Bearer {secret}"})
    assert me.ok

    page.goto(f"{salon.url}/settings")
    expect(page.get_by_label("Token secret")).to_have_count(0)
    page.get_by_role("button", name="Revoke laptop").click()
    page.get_by_role("button", name="Yes, continue").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    gone = page.request.get(f"{salon.url}/api/v1/auths/",
                            headers={"Authorization": f"Bearer {secret}"})
    assert gone.status == 401


def test_export_downloads_the_conversation_file(open_page: OpenPage, salon: SalonServer) -> None:
    """A chat started on this page (its id arrives after the page loaded) exports as Salon's
    conversation file."""
    page, _ = open_page()
    sign_up(page, salon.url)
    ask(page, "Export me please")
    wait_for_answer(page)
    with page.expect_download() as info:
        page.locator("#export-link").click()
    download = info.value
    assert download.suggested_filename == "export-me-please.salon.json"
    document = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert document["format"] == "salon.conversation"
    conv = document["conversation"]
    assert conv["id"] == conversation_id(page)
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant"]
    assert conv["messages"][0]["parts"] == [{"type": "text", "text": "Export me please"}]
