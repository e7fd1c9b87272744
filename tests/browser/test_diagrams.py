"""Mermaid diagrams in a real browser: a ``/diagram`` answer (from the fake model) is drawn as
SVG by the mermaid.js Salon serves, on the share page and the chat page, under the strict CSP
with no violation, no console error and no request to another site; without JavaScript the
share page shows the source."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch, SalonServer, _salon, sign_up
from tests.browser.test_share_page import owner_with_chat, share

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]
FIGURE = "figure.part-diagram"
# Collects every CSP violation the page reports, from before its first script runs.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const { violatedDirective, sourceFile, lineNumber, columnNumber } = event;
  window.__cspViolations.push(`${violatedDirective} ${sourceFile}:${lineNumber}:${columnNumber}`);
});
"""


@pytest.fixture(scope="module")
def mermaid_salon(tmp_path_factory: pytest.TempPathFactory,
                  fake_llm_url: str) -> Iterator[SalonServer]:
    """Salon whose model answers every request with a Mermaid flowchart."""
    yield from _salon(tmp_path_factory, f"{fake_llm_url}/mermaid/v1")


def open_watched(open_page: OpenPage) -> tuple[Page, PageWatch, list[str]]:
    page, watch = open_page()
    page.add_init_script(WATCH_CSP)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    return page, watch, requests


def shared_chat(open_page: OpenPage, salon: SalonServer, question: str) -> str:
    """A new account's chat of one question, shared; returns the link's id."""
    owner, chat_id = owner_with_chat(open_page, salon, question)
    return str(share(owner, salon, chat_id)["share_id"])


def violations(page: Page) -> Any:
    return page.evaluate("window.__cspViolations")


def assert_drawn(page: Page) -> None:
    figure = page.locator(FIGURE)
    expect(figure).to_have_attribute("data-diagram-state", "drawn")
    svg = figure.locator(".diagram-svg svg")
    expect(svg).to_be_visible()
    expect(svg.locator("g.node")).to_have_count(3)
    expect(svg).to_contain_text("Question")
    # Mermaid's strict mode shows "<" and "&" in labels as entities: the source stays text
    expect(svg).to_contain_text("Share")
    expect(figure.locator("pre.mermaid-source")).to_be_hidden()
    # the theme's rules (a constructed stylesheet) apply: nodes are not SVG's default black
    fill = svg.locator("g.node rect").first.evaluate("el => getComputedStyle(el).fill")
    assert fill not in ("rgb(0, 0, 0)", "none"), fill
    assert svg.locator("style, script, foreignObject").count() == 0


def test_share_page_draws_the_diagram_under_the_csp(open_page: OpenPage,
                                                    mermaid_salon: SalonServer) -> None:
    link = shared_chat(open_page, mermaid_salon, "/diagram how sharing works")
    page, watch, requests = open_watched(open_page)
    page.goto(f"{mermaid_salon.url}/s/{link}")
    assert_drawn(page)
    assert violations(page) == []
    assert watch.errors == []
    assert all(url.startswith(mermaid_salon.url) for url in requests), requests
    assert any("/static/vendor/mermaid.min.js" in url for url in requests)


def test_chat_page_draws_the_answer_as_it_arrives(open_page: OpenPage,
                                                  mermaid_salon: SalonServer) -> None:
    page, _, _ = open_watched(open_page)
    sign_up(page, mermaid_salon.url)
    page.get_by_label("Message").fill("/diagram a question")
    page.get_by_label("Message").press("Enter")
    assert_drawn(page)  # no reload: the answer swapped in is drawn
    assert violations(page) == []


def test_pages_without_diagrams_do_not_load_mermaid(open_page: OpenPage,
                                                    mermaid_salon: SalonServer) -> None:
    link = shared_chat(open_page, mermaid_salon, "/help")
    page, _, requests = open_watched(open_page)
    page.goto(f"{mermaid_salon.url}/s/{link}")
    expect(page.locator("main")).to_contain_text("Commands this server can run")
    page.wait_for_load_state("networkidle")
    assert not any("mermaid" in url for url in requests)


def test_without_javascript_the_source_is_shown(browser: Any, open_page: OpenPage,
                                                mermaid_salon: SalonServer) -> None:
    link = shared_chat(open_page, mermaid_salon, "/diagram offline")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{mermaid_salon.url}/s/{link}")
        source = page.locator(f"{FIGURE} pre.mermaid-source")
        expect(source).to_be_visible()
        expect(source).to_contain_text('S["Share <&> page"]')
        expect(page.locator(f"{FIGURE} svg")).to_have_count(0)
    finally:
        context.close()
