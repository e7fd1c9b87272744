"""A live share's viewer keeps every streamed word whatever the order in which the stored
question, the page's fetch of it and the answer's first words arrive.

The model is the fake's ``/gated/v1`` (each answer waits for a release before its first word
and before it finishes), and the viewer's fetches of ``/s/{id}/messages`` can be held, so each
test forces one order:

- the fetch lands before the first word (the first word comes late);
- the first words come before the fetch lands (the first word comes at once);
- the whole answer is written and stored before the fetch lands.

And a turn stored after the page was rendered but before its event stream opened is fetched
once the stream opens.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import SalonServer, _salon
from tests.browser.test_chat_page import wait_for_answer
from tests.browser.test_share_live import OpenPage, api, shared_chat

pytestmark = pytest.mark.browser

QUESTION = "Add a day in Lisbon"
ANSWER = f"Echo: {QUESTION}"
WAIT_SECONDS = 10.0
STREAMING = re.compile(r"\bmessage-streaming\b")


@pytest.fixture(scope="module")
def gated_salon(
    tmp_path_factory: pytest.TempPathFactory, fake_llm_url: str
) -> Iterator[SalonServer]:
    """Salon whose model waits for ``release`` before an answer's first word and its end."""
    yield from _salon(tmp_path_factory, f"{fake_llm_url}/gated/v1")


def release(fake_llm_url: str, times: int = 1) -> None:
    """Let the gated answer go on to its next wait (or past it, when ``times`` is 2)."""
    for _ in range(times):
        httpx.post(f"{fake_llm_url}/release", timeout=5).raise_for_status()


@dataclass
class Fetches:
    """The viewer's fetches of new messages: held while ``holding``, until ``let_go``."""

    page: Page
    holding: bool
    held: list[Route] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.route("**/s/*/messages?*", self._on_fetch)

    def _on_fetch(self, route: Route) -> None:
        if self.holding:
            self.held.append(route)
        else:
            route.continue_()

    def let_go(self) -> None:
        """Wait for the held fetch (the page sends it on the stored question's event), then
        let it and every later one reach the server."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.held:
            assert time.monotonic() < deadline, "the page never fetched the new messages"
            self.page.wait_for_timeout(20)  # lets Playwright deliver the route to us
        self.holding = False
        for route in self.held:
            route.continue_()


def watched_chat(open_page: OpenPage, salon: SalonServer, fake_llm_url: str,
                 *, hold_fetches: bool) -> tuple[Page, Page, Fetches]:
    """An owner's live share with one question and answer, and a viewer on it whose event
    stream is known to be subscribed (it saw a rename made after the page loaded):
    (the owner's chat page, the viewer's page, the viewer's fetches)."""
    release(fake_llm_url, times=2)  # the first answer goes through
    owner, chat_id, share = shared_chat(open_page, salon.url, "Plan the trip", {"live": True})
    viewer, _ = open_page()
    fetches = Fetches(viewer, holding=hold_fetches)
    viewer.goto(share["url"])
    expect(viewer.locator("#messages article")).to_have_count(2)
    api(owner, salon.url, "PATCH", "/api/chat/title",
        {"conversation_id": chat_id, "title": "Lisbon plans"})
    expect(viewer.locator(".share-title")).to_have_text("Lisbon plans")
    return owner, viewer, fetches


def ask_without_waiting(owner: Page, question: str) -> None:
    owner.get_by_label("Message").fill(question)
    owner.get_by_label("Message").press("Enter")


def streamed_text(viewer: Page) -> None:
    """The whole answer is on the viewer's page as it was written, after the question."""
    expect(viewer.locator(".message-streaming")).to_have_count(1)
    expect(viewer.locator(".message-streaming .streaming-text")).to_have_text(ANSWER)


def question_then_streamed_text(viewer: Page) -> None:
    expect(viewer.locator("#messages article.message-user")).to_have_count(2)
    expect(viewer.locator("#messages article").nth(2)).to_contain_text(QUESTION)
    expect(viewer.locator("#messages article").nth(2)).not_to_have_class(STREAMING)
    streamed_text(viewer)
    expect(viewer.locator("#messages article").last).to_have_class(STREAMING)


def stored_answer_once(viewer: Page) -> None:
    """The stored answer replaced the streamed words, and nothing is shown twice."""
    expect(viewer.locator(".message-streaming")).to_have_count(0)
    articles = viewer.locator("#messages article")
    expect(articles).to_have_count(4)
    expect(viewer.locator("#messages article.message-user")).to_have_count(2)
    expect(articles.nth(2)).to_contain_text(QUESTION)
    expect(articles.nth(3).locator(".message-body")).to_have_text(ANSWER)


def test_the_fetch_lands_before_the_first_word(
    open_page: OpenPage, gated_salon: SalonServer, fake_llm_url: str
) -> None:
    owner, viewer, _ = watched_chat(open_page, gated_salon, fake_llm_url, hold_fetches=False)
    ask_without_waiting(owner, QUESTION)
    expect(viewer.locator("#messages article")).to_have_count(3)
    expect(viewer.locator("#messages article").last).to_contain_text(QUESTION)
    expect(viewer.locator(".message-streaming")).to_have_count(0)

    release(fake_llm_url)  # the first word comes late: after the fetch landed
    question_then_streamed_text(viewer)
    release(fake_llm_url)
    stored_answer_once(viewer)


def words_before_the_fetch(
    open_page: OpenPage, salon: SalonServer, fake_llm_url: str, *, releases: int
) -> tuple[Page, Page, Fetches]:
    """The owner asks while the viewer's fetch of the stored question is held, and the words
    come at once (the answer's end waits unless ``releases`` is 2): the viewer shows them all,
    and not yet the question. (The owner's page, the viewer's, the viewer's fetches.)"""
    owner, viewer, fetches = watched_chat(open_page, salon, fake_llm_url, hold_fetches=True)
    release(fake_llm_url, times=releases)
    ask_without_waiting(owner, QUESTION)
    streamed_text(viewer)
    expect(viewer.locator("#messages article.message-user")).to_have_count(1)
    return owner, viewer, fetches


def test_the_first_words_come_before_the_fetch_lands(
    open_page: OpenPage, gated_salon: SalonServer, fake_llm_url: str
) -> None:
    _, viewer, fetches = words_before_the_fetch(open_page, gated_salon, fake_llm_url,
                                                releases=1)
    fetches.let_go()  # the fetch of the stored question lands after the words
    question_then_streamed_text(viewer)
    release(fake_llm_url)
    stored_answer_once(viewer)


def test_the_answer_is_stored_before_the_fetch_lands(
    open_page: OpenPage, gated_salon: SalonServer, fake_llm_url: str
) -> None:
    owner, viewer, fetches = words_before_the_fetch(open_page, gated_salon, fake_llm_url,
                                                    releases=2)
    wait_for_answer(owner)  # stored
    fetches.let_go()  # brings the question and the answer at once
    stored_answer_once(viewer)


def test_a_turn_stored_before_the_stream_opens_is_shown(
    open_page: OpenPage, gated_salon: SalonServer, fake_llm_url: str
) -> None:
    """A question and answer stored after the page was rendered but before its event stream
    opened (no event will tell of them) are fetched once the stream is open."""
    release(fake_llm_url, times=2)
    owner, _, share = shared_chat(open_page, gated_salon.url, "Plan the trip", {"live": True})
    viewer, _ = open_page()
    held: list[Route] = []
    viewer.route("**/s/*/events", lambda route: held.append(route))
    viewer.goto(share["url"])
    expect(viewer.locator("#messages article")).to_have_count(2)
    release(fake_llm_url, times=2)
    ask_without_waiting(owner, QUESTION)
    wait_for_answer(owner)  # stored while the viewer's stream is not open yet
    deadline = time.monotonic() + WAIT_SECONDS
    while not held:
        assert time.monotonic() < deadline, "the page never opened its event stream"
        viewer.wait_for_timeout(20)
    held[0].continue_()
    stored_answer_once(viewer)
