"""What a message must not smuggle into the pages that show it, seen through the real share
page: a formula borrowing Salon's CSS classes, ids or styles."""

from __future__ import annotations

import re

from tests.factories import UserClient
from tests.web.test_share_page import page_ok


async def test_a_formula_on_the_share_page_has_no_class_id_or_style(alice: UserClient) -> None:
    chat_id = await alice.new_conversation(
        "see $\\class{share-banner}{x} + \\cssId{clone-login}{y} + \\style{position:fixed}{z}$")
    link = (await alice.share(chat_id))["share_id"]
    html = await page_ok(alice.http, link)
    formulas = re.findall(r"<math\b.*?</math>", html, flags=re.S)
    assert formulas, html
    for formula in formulas:
        assert not re.search(r"\s(class|id|style|href)=", formula), formula
