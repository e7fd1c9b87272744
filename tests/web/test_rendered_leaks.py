"""What must not reach the pages and answers users see, through the real app: a formula
borrowing Salon's CSS classes, ids or styles; a chart's template images; the model server's
own error text."""

from __future__ import annotations

import re

import pytest

from tests.factories import UserClient
from tests.web.test_share_page import page_ok
from tests.web.test_transfer_api import IMPORT, document, message


async def test_a_formula_on_the_share_page_has_no_class_id_or_style(alice: UserClient) -> None:
    chat_id = await alice.new_conversation(
        "see $\\class{share-banner}{x} + \\cssId{clone-login}{y} + \\style{position:fixed}{z}$")
    link = (await alice.share(chat_id))["share_id"]
    html = await page_ok(alice.http, link)
    formulas = re.findall(r"<math\b.*?</math>", html, flags=re.S)
    assert formulas, html
    for formula in formulas:
        assert not re.search(r"\s(class|id|style|href)=", formula), formula


@pytest.mark.parametrize("llm_mode", ["/fail-500"])
@pytest.mark.parametrize("settings_overrides", [{"llm_api_key": "sk-123"}])
async def test_a_model_server_error_shows_salons_sentence_only(
    alice: UserClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The fake answers 500 with "secret internal detail" and the key it was sent."""
    with caplog.at_level("WARNING", logger="salon.llm.openai"):
        body = (await alice.http.post("/api/chat", json={"q": "hi", "stream": False})).json()
    assert body["error"] == {"detail": "The model server is unavailable (HTTP 500).",
                             "code": "LLM_UNAVAILABLE"}
    chat_id = body["conversationId"]
    share = await alice.share(chat_id)
    seen = [body["response"], (await alice.http.get(
        "/api/chat/history", params={"conversation_id": chat_id})).text,
            (await alice.http.get(f"/api/v1/chats/share/{share['share_id']}")).text,
            await page_ok(alice.http, share["share_id"])]
    for text in seen:
        assert "The model server is unavailable (HTTP 500)." in text
        assert "secret internal detail" not in text and "sk-123" not in text
    assert "secret internal detail ***" in caplog.text and "sk-123" not in caplog.text


async def test_a_chart_on_the_share_page_loads_no_image(alice: UserClient) -> None:
    tracker, pixel = "https://tracker.example/t.png", "data:image/png;base64,iVBORw0KGgo="
    spec = {"data": [{"type": "bar", "y": [1, 2]}, {"type": "image", "source": tracker}],
            "layout": {"images": [{"source": pixel}], "template": {"layout": {"images": [
                {"source": tracker}, {"source": pixel}]}}}}
    doc = document(message("assistant", {"type": "chart", "title": "Sales", "spec": spec}))
    r = await alice.http.post(IMPORT, json=doc)
    assert r.status_code == 200, r.text
    link = (await alice.share(r.json()["imported"][0]["chat_id"]))["share_id"]
    html = await page_ok(alice.http, link)
    assert 'class="chart-spec"' in html
    assert "tracker.example" not in html and "data:image" not in html
