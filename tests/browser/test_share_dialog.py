"""The share dialog in a real browser: opened from the conversation header and (by keyboard)
from the sidebar; every option; the cleaned custom id and the expiry summary as you type (the
same sentence the server then returns); copy, QR code, update snapshot, rotate, delete,
restore; errors shown inside the dialog; phone width in dark mode."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.browser.conftest import PageWatch, SalonServer, sign_up
from tests.browser.test_chat_page import ask, conversation_id

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]


def api_share(page: Page, chat_id: str) -> dict[str, Any]:
    origin = re.match(r"https?://[^/]+", page.url)
    assert origin
    r = page.request.get(f"{origin.group(0)}/api/v1/chats/{chat_id}/share")
    assert r.status == 200, r.text()
    body: dict[str, Any] = r.json()
    return body


def start_chat(page: Page, salon: SalonServer, *questions: str) -> str:
    sign_up(page, salon.url)
    for question in questions or ("Share this please",):
        ask(page, question)
    return conversation_id(page)


def open_from_header(page: Page) -> Locator:
    page.locator("#chat-actions").get_by_role("button", name="Share").click()
    dialog = page.get_by_role("dialog", name="Share chat")
    expect(dialog).to_be_visible()
    return dialog


def confirm(page: Page, label: str) -> None:
    page.get_by_role("dialog").get_by_role("button", name=label, exact=True).last.click()


def test_create_a_link_with_every_option(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    chat_id = start_chat(page, salon, "First question", "Second question")
    expect(page.locator("#share-badge")).to_be_hidden()
    dialog = open_from_header(page)
    expect(dialog.locator("#share-state")).to_have_text("This chat is not shared yet.")
    expect(dialog.locator("#share-chat-title")).to_have_text("First question")
    expect(dialog.get_by_role("button", name="Create link")).to_be_visible()
    expect(dialog.locator("#share-summary")).to_have_text("Never expires")

    custom = dialog.get_by_label("Custom link (optional)")
    custom.press_sequentially("  My great  chat/<2>! ")
    expect(dialog.locator("#share-cleaned-id")).to_have_text("/s/My-great-chat2")
    custom.fill("quarterly review ~v1.0")
    expect(dialog.locator("#share-cleaned-id")).to_have_text("/s/quarterly-review-~v1.0")

    dialog.get_by_label("Logged-in users only").check()
    dialog.get_by_label("Live updates").check()
    dialog.get_by_label("Display my name").check()
    dialog.get_by_label("Password (optional)").fill("open sesame")
    dialog.get_by_label("Expires after").select_option("custom")
    dialog.get_by_label("Date and time (your local time)").fill("2031-03-04T17:30")
    expect(dialog.locator("#share-summary")).to_contain_text("Expires on 3/4/2031")
    expect(dialog.locator("#share-summary-utc")).to_be_visible()
    dialog.get_by_label("Max views (0 = unlimited)").fill("100")
    expect(dialog.locator("#share-summary")).to_contain_text("or after 100 views")
    dialog.get_by_label("Max clones (0 = unlimited)").fill("1")
    expect(dialog.locator("#share-summary")).to_contain_text("or after 1 clone")
    dialog.get_by_label("Allow viewing after the clone limit").check()
    expect(dialog.locator("#share-summary")).to_contain_text("; cloning stops after 1 clone")
    first_answer = page.locator("article.message-assistant").first.get_attribute("data-message-id")
    assert first_answer
    dialog.get_by_label("Share up to").select_option(first_answer)
    expect(dialog.get_by_label("Share up to").locator("option")).to_have_count(5)
    summary_before = dialog.locator("#share-summary").inner_text()

    dialog.get_by_role("button", name="Create link").click()
    expect(dialog.locator("#share-url")).to_have_value(re.compile(r"/s/quarterly-review-~v1\.0$"))
    expect(dialog.locator("#share-state")).to_contain_text("Link created.")
    share = api_share(page, chat_id)
    assert share["expiry_summary"] == summary_before
    expect(dialog.locator("#share-summary")).to_have_text(share["expiry_summary"])
    assert share["share_id"] == "quarterly-review-~v1.0"
    assert (share["is_public"], share["live"], share["display_username"]) == (False, True, True)
    assert share["allow_cloning"] is True and share["has_password"] is True
    assert (share["max_views"], share["max_clones"]) == (100, 1)
    assert share["allow_view_after_clone_limit"] is True
    assert share["upto_message_id"] == first_answer
    expect(dialog.get_by_role("button", name="Update link settings")).to_be_visible()
    expect(dialog.get_by_label("Current password (to change or remove it)")).to_be_visible()

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#share-badge")).to_have_text("Shared")
    page.reload()
    expect(page.locator("#share-badge")).to_have_text("Shared")


def test_sidebar_keyboard_copy_qr_snapshot_rotate_delete(open_page: OpenPage,
                                                        salon: SalonServer) -> None:
    page, _ = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=salon.url)
    other_id = start_chat(page, salon, "An older chat")
    page.goto(salon.url)
    ask(page, "The open chat")
    row = page.locator("#conversations li", has_text="An older chat")
    button = row.get_by_role("button", name="Share conversation")
    expect(button).to_have_attribute("title", "Share “An older chat”")
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Share chat")
    expect(dialog.locator("#share-chat-title")).to_have_text("An older chat")
    expect(dialog.locator("#share-cleaned-id")).to_have_text("a random id")
    dialog.get_by_role("button", name="Create link").click()
    url_field = dialog.locator("#share-url")
    expect(url_field).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{22}$"))
    first_url = url_field.input_value()
    assert first_url == api_share(page, other_id)["url"]
    expect(page.locator("#share-badge")).to_be_hidden()  # the open chat is not the shared one

    dialog.get_by_role("button", name="Copy").click()
    expect(dialog.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == first_url
    open_link = dialog.get_by_role("link", name="Open in a new tab")
    expect(open_link).to_have_attribute("href", first_url)
    expect(open_link).to_have_attribute("target", "_blank")

    qr = dialog.get_by_role("img", name="QR code of the link")
    expect(qr).to_have_attribute("src", re.compile(r"format=svg&style=plain"))
    page.wait_for_function("document.getElementById('share-qr-image').naturalWidth > 0")
    dialog.get_by_label("Gradient").check()
    expect(qr).to_have_attribute("src", re.compile(r"style=gradient"))
    page.wait_for_function("""() => { const img = document.getElementById('share-qr-image');
        return img.complete && img.naturalWidth > 0 && img.src.includes('gradient'); }""")
    for name, fmt in (("SVG", "svg"), ("PNG", "png")):
        href = dialog.get_by_role("link", name=name).get_attribute("href")
        assert href and f"format={fmt}" in href and "download=1" in href
        r = page.request.get(f"{salon.url}{href}")
        assert r.status == 200 and r.headers["content-disposition"].startswith("attachment")

    dialog.get_by_role("button", name="Update snapshot").click()
    expect(dialog.locator("#share-state")).to_contain_text("Snapshot updated.")

    dialog.get_by_role("button", name="Rotate link").click()
    confirm(page, "Rotate link")
    expect(dialog.locator("#share-state")).to_contain_text("New link made.")
    expect(url_field).not_to_have_value(first_url)
    assert url_field.input_value() == api_share(page, other_id)["url"]
    assert page.request.get(first_url).status == 404
    share_id = url_field.input_value().rsplit("/", 1)[1]
    expect(qr).to_have_attribute("src", re.compile(f"v={re.escape(share_id)}"))

    dialog.get_by_role("button", name="Delete link").click()
    confirm(page, "Delete link")
    expect(dialog.locator("#share-state")).to_contain_text("Link deleted. Revoked")
    assert api_share(page, other_id)["status"] == "revoked"
    dialog.get_by_role("button", name="Restore link").click()
    expect(dialog.locator("#share-state")).to_contain_text("Link restored. Active")
    dialog.get_by_role("button", name="Close", exact=True).last.click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#share-badge")).to_be_hidden()


def test_mistakes_are_refused_with_a_clear_message(open_page: OpenPage,
                                                   salon: SalonServer) -> None:
    page, _ = open_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    start_chat(page, salon)
    dialog = open_from_header(page)
    error = dialog.locator("#share-error")
    posts.clear()

    dialog.get_by_label("Expires after").select_option("custom")
    dialog.get_by_label("Date and time (your local time)").fill("2020-01-01T10:00")
    dialog.get_by_role("button", name="Create link").click()
    expect(error).to_have_text("The expiry date must be in the future.")
    dialog.get_by_label("Expires after").select_option("3600")
    dialog.get_by_label("Custom link (optional)").fill("x" * 145)
    dialog.get_by_role("button", name="Create link").click()
    expect(error).to_have_text("The custom link can be at most 144 characters.")
    dialog.get_by_label("Custom link (optional)").fill("!!!")
    dialog.get_by_role("button", name="Create link").click()
    expect(error).to_contain_text("empty once unsupported characters are removed")
    dialog.get_by_label("Custom link (optional)").fill("a b")
    dialog.get_by_role("button", name="Create link").click()
    expect(error).to_have_text("The custom link needs at least 4 characters (a shorter one is "
                               "easy to guess).")
    assert posts == []

    dialog.get_by_label("Custom link (optional)").fill("rotate")  # a reserved word: the server says
    dialog.get_by_role("button", name="Create link").click()
    expect(error).to_have_text("'rotate' is reserved; choose another custom link.")
    dialog.get_by_label("Custom link (optional)").fill("")
    dialog.get_by_label("Password (optional)").fill("first secret")
    dialog.get_by_role("button", name="Create link").click()
    expect(error).to_be_hidden()
    expect(dialog.locator("#share-summary")).to_have_text(re.compile(r"^Expires on .* (AM|PM)$"))

    dialog.get_by_label("New password (leave empty to keep it)").fill("second secret")
    dialog.get_by_role("button", name="Update link settings").click()
    expect(error).to_have_text("Enter the current password to change or remove it.")
    dialog.get_by_label("Current password (to change or remove it)").fill("wrong one")
    dialog.get_by_role("button", name="Update link settings").click()
    expect(error).not_to_be_empty()
    expect(error).to_be_visible()
    dialog.get_by_label("Current password (to change or remove it)").fill("first secret")
    dialog.get_by_label("Remove the password").check()
    expect(dialog.get_by_label("New password (leave empty to keep it)")).to_be_disabled()
    dialog.get_by_role("button", name="Update link settings").click()
    expect(dialog.locator("#share-state")).to_contain_text("Link settings updated.")
    expect(dialog.get_by_label("Password (optional)")).to_be_visible()


def test_an_easy_to_guess_custom_link_is_warned_about(open_page: OpenPage,
                                                      salon: SalonServer) -> None:
    page, _ = open_page()
    chat_id = start_chat(page, salon)
    dialog = open_from_header(page)
    custom = dialog.get_by_label("Custom link (optional)")
    warning = dialog.locator("#share-custom-id-warning")
    expect(warning).to_be_hidden()
    for typed, warned in (("team", True), ("2030 01 31", True), ("Password", True),
                          ("my   notes!", True), ("trip to lisbon 2030", False), ("", False),
                          ("12345678", True), ("q3-budget-review", False)):
        custom.fill(typed)
        if warned:
            expect(warning).to_be_visible()
            expect(warning).to_contain_text("Easy to guess")
        else:
            expect(warning).to_be_hidden()
    custom.fill("team")  # a warning, not a refusal
    dialog.get_by_role("button", name="Create link").click()
    expect(dialog.locator("#share-url")).to_have_value(re.compile(r"/s/team$"))
    assert api_share(page, chat_id)["share_id"] == "team"
    expect(warning).to_be_visible()  # still said while the link is that guessable


def test_phone_width_and_dark_theme(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page(width=380, height=740)
    page.emulate_media(color_scheme="dark")
    start_chat(page, salon)
    dialog = open_from_header(page)
    dialog.get_by_role("button", name="Create link").click()
    expect(dialog.locator("#share-url")).to_have_value(re.compile("/s/"))
    box = dialog.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 380
    background = dialog.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background != "rgb(255, 255, 255)"
    dialog.get_by_role("button", name="Delete link").scroll_into_view_if_needed()
    expect(dialog.get_by_role("button", name="Delete link")).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


CUSTOM_IDS = [
    "", "   ", "plain", "  two  words ", "tab\there", "new\nline", "ünïcödé ✓ id", "a/b?c#d&e",
    "dots.and~tilde_under-score", "\u00a0nbsp\u00a0inside\u2003em\u3000ideo", "\x1cfile\x1fsep",
    "\ufeffbom", "x" * 200, "-._~", "<script>alert(1)</script>", "emoji 🙂 here",
]


def test_the_dialog_mirrors_the_servers_rules(open_page: OpenPage, salon: SalonServer) -> None:
    """cleanShareId and expirySummary in share-dialog.js give exactly what domain/links.py and
    domain/shares.py give, for awkward inputs too."""
    from datetime import UTC, datetime

    from salon.domain.links import COMMON_IDS, clean_share_id, is_guessable_share_id
    from salon.domain.shares import expiry_summary

    page, _ = open_page()
    sign_up(page, salon.url)
    cleaned = page.evaluate("""async (ids) => {
        const m = await import('/static/share-dialog.js');
        return ids.map((id) => m.cleanShareId(id)); }""", CUSTOM_IDS)
    assert cleaned == [clean_share_id(raw) for raw in CUSTOM_IDS]
    candidates = [c for c in cleaned if c] + [
        w for word in sorted(COMMON_IDS) for w in (word, word.upper(), word + "s", "x" + word)
    ] + ["1234", "2024-01-31", "0.1.2.3.4.5.6", "1234567", "12345678a", "abcdefg", "abcdefgh"]
    guessable = page.evaluate("""async (ids) => {
        const m = await import('/static/share-dialog.js');
        return ids.map((id) => m.isGuessableShareId(id)); }""", candidates)
    assert guessable == [is_guessable_share_id(c) for c in candidates]

    times = [None, datetime(2030, 10, 26, 17, 0, tzinfo=UTC),
             datetime(2031, 1, 1, 0, 5, 9, tzinfo=UTC),
             datetime(2029, 12, 31, 12, 59, 59, tzinfo=UTC)]
    cases = [(t, views, clones, after) for t in times for views in (None, 1, 100)
             for clones in (None, 1, 7) for after in (False, True)]
    js_cases = [{"expiresAt": t.isoformat() if t else None, "maxViews": v, "maxClones": c,
                 "allowViewAfterCloneLimit": a} for t, v, c, a in cases]
    sentences = page.evaluate("""async (cases) => {
        const m = await import('/static/share-dialog.js');
        return cases.map((c) => m.expirySummary({ ...c,
            expiresAt: c.expiresAt ? new Date(c.expiresAt) : null })); }""", js_cases)
    assert sentences == [expiry_summary(expires_at=t, max_views=v, max_clones=c,
                                        allow_view_after_clone_limit=a)
                         for t, v, c, a in cases]


def test_the_form_waits_for_the_share_to_load(open_page: OpenPage, salon: SalonServer) -> None:
    """Nothing typed while the share is loading can be overwritten by it: the fields are
    disabled until it has arrived (here the answer is held back for a moment)."""
    page, _ = open_page()
    chat_id = start_chat(page, salon)
    held: list[Route] = []
    page.route(re.compile(rf"/api/v1/chats/{re.escape(chat_id)}/share$"),
               lambda route: held.append(route))
    dialog = open_from_header(page)
    custom_id = dialog.get_by_label("Custom link (optional)")
    page.wait_for_function("() => document.getElementById('share-form')"
                           ".getAttribute('aria-busy') === 'true'")
    expect(custom_id).to_be_disabled()
    expect(dialog.get_by_role("button", name="Create link")).to_be_disabled()
    assert len(held) == 1
    held[0].continue_()
    expect(custom_id).to_be_enabled()
    expect(custom_id).to_be_focused()
    expect(dialog.locator("#share-state")).to_have_text("This chat is not shared yet.")
