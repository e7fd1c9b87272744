"""A signed-in viewer watches a logged-in-only live share and logs out in another tab: the
share's page stops following the chat at once and says why."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from salon.domain.shares import LOGIN_REQUIRED_DETAIL
from tests.browser.conftest import SalonServer, sign_up
from tests.browser.test_share_live import OpenPage, shared_chat

pytestmark = pytest.mark.browser


def test_logging_out_in_another_tab_ends_the_live_page(
    open_page: OpenPage, salon: SalonServer
) -> None:
    _, _, share = shared_chat(open_page, salon.url, "Members only",
                              {"live": True, "is_public": False})

    viewer, _ = open_page()
    sign_up(viewer, salon.url, name="Viewer")
    viewer.goto(share["url"])
    expect(viewer.locator("#messages article")).to_have_count(2)
    expect(viewer.locator("#main")).to_have_attribute("data-listening", "true")

    other_tab = viewer.context.new_page()
    other_tab.goto(f"{salon.url}/")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_url(f"{salon.url}/login")

    expect(viewer.locator("#live-notice")).to_have_text(LOGIN_REQUIRED_DETAIL)
    expect(viewer.locator("#main")).to_have_class(re.compile(r"\bshare-closed\b"))
