"""Interactive charts in a real browser: a chart part is drawn by the plotly.js Salon serves
(hover tooltip, legend, zoom), under the page's strict CSP, with no console errors and no request
to another site; without JavaScript the figure shows its title and data table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import PageWatch, SalonServer, sign_up
from tests.browser.test_chat_page import ask, conversation_id

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]

SPEC = {
    "data": [
        {"type": "bar", "name": "Revenue", "x": ["Jan", "Feb", "Mar"], "y": [10, 15, 7]},
        {"type": "scatter", "mode": "lines+markers", "name": "Costs",
         "x": ["Jan", "Feb", "Mar"], "y": [6, 9, 12]},
    ],
    "layout": {"title": {"text": "First quarter"}},
}


def add_chart(salon: SalonServer, chat_id: str, spec: Any, *, title: str = "Quarter") -> None:
    """Give the conversation's last answer a chart part, as a model's tool would have stored
    it (written straight into the server's database: no API creates chart parts yet)."""
    with sqlite3.connect(salon.data_dir / "salon.db") as db:
        (message_id, parts) = db.execute(
            "SELECT id, parts FROM messages WHERE conversation_id = ? AND role = 'assistant' "
            "ORDER BY seq DESC LIMIT 1", (chat_id,)).fetchone()
        new_parts = [*json.loads(parts), {"type": "chart", "title": title, "spec": spec}]
        db.execute("UPDATE messages SET parts = ? WHERE id = ?",
                   (json.dumps(new_parts), message_id))


def chat_with_chart(page: Page, salon: SalonServer, spec: Any = SPEC) -> str:
    sign_up(page, salon.url)
    ask(page, "Chart my quarter")
    chat_id = conversation_id(page)
    add_chart(salon, chat_id, spec)
    page.reload()
    return chat_id


def test_chart_is_interactive_without_console_errors(open_page: OpenPage,
                                                     salon: SalonServer) -> None:
    page, watch = open_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    chat_with_chart(page, salon)

    figure = page.locator("figure[data-chart]")
    expect(figure.locator("figcaption")).to_have_text("Quarter")
    expect(figure.locator("svg.main-svg").first).to_be_visible()
    expect(figure).to_have_attribute("data-chart-state", "drawn")
    expect(figure.locator(".chart-fallback")).to_be_hidden()
    expect(figure.locator(".legend .traces")).to_have_count(2)
    expect(figure.locator(".legend")).to_contain_text("Revenue")
    expect(figure.locator(".modebar")).to_be_attached()
    expect(figure.locator(".modebar-btn[data-title*='Zoom']").first).to_be_attached()
    expect(figure.locator("a.modebar-btn[href*='plotly']")).to_have_count(0)  # no logo link

    bar = figure.locator(".bars .point path").nth(1).bounding_box()
    assert bar is not None
    # plotly listens on the drag layer above the bars: move the real mouse there
    page.mouse.move(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2, steps=5)
    expect(figure.locator(".hoverlayer .hovertext").first).to_be_visible()
    expect(figure.locator(".hoverlayer")).to_contain_text("15")

    assert all(url.startswith(salon.url) for url in requests), requests
    assert any("/static/vendor/plotly.min.js" in url for url in requests)
    assert watch.errors == []


def test_legend_click_hides_a_trace(open_page: OpenPage, salon: SalonServer) -> None:
    page, _ = open_page()
    chat_with_chart(page, salon)
    figure = page.locator("figure[data-chart]")
    expect(figure.locator(".scatterlayer .trace")).to_have_count(1)
    figure.locator(".legend .traces", has_text="Costs").click()
    expect(figure.locator(".legend .traces", has_text="Costs")).to_have_css("opacity", "0.5")


def test_chart_works_at_phone_width_in_dark_mode(open_page: OpenPage,
                                                 salon: SalonServer) -> None:
    page, _ = open_page(width=390, height=800)
    page.emulate_media(color_scheme="dark")
    chat_with_chart(page, salon)
    figure = page.locator("figure[data-chart]")
    expect(figure.locator("svg.main-svg").first).to_be_visible()
    box = figure.bounding_box()
    assert box is not None and box["width"] <= 390
    text_colour = figure.locator(".gtitle").evaluate("el => getComputedStyle(el).fill")
    assert text_colour != "rgb(68, 68, 68)"  # plotly's default dark grey would be unreadable


def test_a_bad_spec_shows_a_note_and_loads_nothing(open_page: OpenPage,
                                                  salon: SalonServer) -> None:
    page, _ = open_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    chat_with_chart(page, salon, {"data": "nope", "config": {"mathjax": "https://cdn.x"}})
    figure = page.locator("figure.part-chart")
    expect(figure).to_contain_text("This chart could not be drawn")
    expect(page.locator("svg.main-svg")).to_have_count(0)
    assert not any("plotly" in r.url for r in requests)


def test_without_javascript_the_table_is_shown(browser: Any, salon: SalonServer,
                                               open_page: OpenPage) -> None:
    page, _ = open_page()
    chat_id = chat_with_chart(page, salon)
    cookies = page.context.cookies()
    context = browser.new_context(java_script_enabled=False)
    try:
        context.add_cookies(cookies)
        plain = context.new_page()
        plain.goto(f"{salon.url}/c/{chat_id}")
        figure = plain.locator("figure[data-chart]")
        expect(figure.locator("figcaption")).to_have_text("Quarter")
        expect(figure.locator("table caption", has_text="Revenue")).to_be_visible()
        expect(figure.locator("table").first.locator("tbody tr")).to_have_count(3)
    finally:
        context.close()
