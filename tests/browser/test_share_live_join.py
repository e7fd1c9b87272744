"""A viewer who opens a live share page while an answer is being written sees that answer from
its first word, then the words that follow, each once, then the stored answer in its place.

The model is the fake's ``/gated-each/v1``: every word of an answer, and its end, waits for a
release, so the test decides which words are written before the viewer arrives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SalonServer, _salon
from tests.browser.test_share_live import OpenPage, shared_chat
from tests.browser.test_share_live_order import release

pytestmark = pytest.mark.browser

FIRST_QUESTION = "Plan the trip"
QUESTION = "Add a day in Lisbon"
WORDS = ["Echo:", " Add", " a", " day", " in", " Lisbon"]
STREAMING = re.compile(r"\bmessage-streaming\b")


@pytest.fixture(scope="module")
def word_gated_salon(
    tmp_path_factory: pytest.TempPathFactory, fake_llm_url: str
) -> Iterator[SalonServer]:
    """Salon whose model waits for a release before each word of an answer and its end."""
    yield from _salon(tmp_path_factory, f"{fake_llm_url}/gated-each/v1")


def test_a_viewer_who_opens_the_page_mid_answer_sees_it_from_its_first_word(
    open_page: OpenPage, word_gated_salon: SalonServer, fake_llm_url: str
) -> None:
    release(fake_llm_url, times=len(f"Echo: {FIRST_QUESTION}".split()) + 1)
    owner, _, share = shared_chat(open_page, word_gated_salon.url, FIRST_QUESTION,
                                  {"live": True})
    owner.get_by_label("Message").fill(QUESTION)
    owner.get_by_label("Message").press("Enter")
    release(fake_llm_url)  # the first word is written...
    writing = owner.locator("#messages article.message-assistant .streaming-text").last
    expect(writing).to_have_text(WORDS[0])

    viewer, _ = open_page()  # ...then the viewer opens the page
    viewer.goto(share["url"])
    articles = viewer.locator("#messages article")
    streamed = viewer.locator(".message-streaming .streaming-text")
    expect(articles).to_have_count(4)
    expect(articles.nth(2)).to_contain_text(QUESTION)
    expect(articles.last).to_have_class(STREAMING)
    expect(streamed).to_have_text(WORDS[0])
    for n in range(1, len(WORDS)):
        release(fake_llm_url)
        expect(streamed).to_have_text("".join(WORDS[:n + 1]))

    release(fake_llm_url)  # the end: the stored answer replaces the words
    expect(viewer.locator(".message-streaming")).to_have_count(0)
    expect(articles).to_have_count(4)
    expect(articles.nth(3).locator(".message-body")).to_have_text("".join(WORDS))
