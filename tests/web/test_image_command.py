"""``/image`` end to end over HTTP against the fake model and its fake images API, on both
databases: the improved prompt, b64 and URL results, the stored part and blob, the share page
and its ZIP, the SSRF refusal of a private URL, a body that is no image, and no images API."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import httpx
import pytest

from salon.config import Settings
from tests.factories import UserClient
from tests.fakes.openai_server import HANG_IMAGE_MODEL, PNG, TEXT_IMAGE_MODEL, FakeOpenAIServer
from tests.web.test_chat_api import history
from tests.web.test_live_server import SSE, serve, sign_up, wait_for_answer

QUESTION = "/image a red fox reading a newspaper"


@pytest.fixture
def image_settings() -> dict[str, Any]:
    """Parametrise to change the images settings of a test."""
    return {"image_response_format": "b64_json"}


@pytest.fixture
def settings_overrides(fake_llm: FakeOpenAIServer,
                       image_settings: dict[str, Any]) -> dict[str, Any]:
    if image_settings.get("image_base_url") == "":
        return image_settings
    return {"image_base_url": f"{fake_llm.url}/v1", "image_model": "fake-image",
            "image_api_key": "image-secret", **image_settings}


def parts_of(h: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for m in h["chat"] for p in m["parts"] if p["type"] == kind]


def sent_to_images_api(fake_llm: FakeOpenAIServer, prompt: str) -> list[dict[str, Any]]:
    """The images requests carrying ``prompt`` (the fake server is shared by the session)."""
    return [r for r in fake_llm.image_requests if r.get("prompt") == prompt]


async def test_a_b64_image_is_stored_as_a_blob_and_an_image_part(
    alice: UserClient, fake_llm: FakeOpenAIServer
) -> None:
    events = await alice.chat_events(QUESTION)
    statuses = [e["data"] for e in events if e["type"] == "status"]
    assert statuses == ["Improving the image prompt", "Generating the image with fake-image"]
    assert [e["data"] for e in events if e["type"] == "message"] == ["Here is the image."]
    assert events[-1]["data"]["status"] == "complete"
    h = await history(alice, events[0]["data"]["conversationId"])
    answer = h["chat"][-1]["parts"]
    assert [p["type"] for p in answer] == ["text", "tool_call", "image"]
    prompt = "Echo: a red fox reading a newspaper"  # what the (echoing) chat model wrote
    assert answer[1]["name"] == "image" and answer[1]["arguments"] == {"prompt": prompt}
    assert answer[1]["result"] == {"media_type": "image/png", "size": len(PNG)}
    image = answer[2]
    assert image["media_type"] == "image/png" and image["size"] == len(PNG)
    assert image["name"] == "image.png" and image["alt"] == prompt
    r = await alice.http.get(f"/api/v1/files/{image['file_id']}/content")
    assert r.status_code == 200 and r.content == PNG
    sent = sent_to_images_api(fake_llm, prompt)[-1]
    assert sent == {"model": "fake-image", "prompt": prompt, "n": 1,
                    "response_format": "b64_json"}


@pytest.mark.parametrize("image_settings", [
    {"image_response_format": "url", "fetch_allow_private": "127.0.0.1"}])
async def test_an_image_url_is_fetched_when_its_address_is_allowed(alice: UserClient) -> None:
    body = await alice.chat(QUESTION)
    assert body["status"] == "ok" and body["response"] == "Here is the image."
    [image] = parts_of(await history(alice, body["conversationId"]), "image")
    r = await alice.http.get(f"/api/v1/files/{image['file_id']}/content")
    assert r.content == PNG


@pytest.mark.parametrize("image_settings", [{"image_response_format": "url"}])
async def test_an_image_url_on_a_private_address_is_refused(alice: UserClient) -> None:
    body = await alice.chat(QUESTION)
    assert body["status"] == "error" and body["error"]["code"] == "FETCH_ADDRESS_REFUSED"
    assert "SALON_FETCH_ALLOW_PRIVATE" in body["error"]["detail"]
    h = await history(alice, body["conversationId"])
    assert parts_of(h, "image") == []
    assert parts_of(h, "tool_call")[0]["arguments"]["prompt"].startswith("Echo:")
    assert h["chat"][-1]["parts"][0]["text"].startswith("⚠️ The image the API made could not")


@pytest.mark.parametrize("image_settings", [
    {"image_model": TEXT_IMAGE_MODEL, "image_response_format": "b64_json"},
    {"image_model": TEXT_IMAGE_MODEL, "image_response_format": "url",
     "fetch_allow_private": "127.0.0.1"}])
async def test_a_body_that_is_no_image_is_refused(alice: UserClient) -> None:
    body = await alice.chat(QUESTION)
    assert body["status"] == "error" and body["error"]["code"] == "IMAGE_INVALID"
    assert "not a PNG, JPEG, WebP or GIF image" in body["error"]["detail"]
    assert parts_of(await history(alice, body["conversationId"]), "image") == []


async def test_the_share_page_and_its_zip_show_the_image(alice: UserClient,
                                                         client: httpx.AsyncClient) -> None:
    chat_id = (await alice.chat(QUESTION))["conversationId"]
    link = (await alice.share(chat_id))["share_id"]
    page = (await client.get(f"/s/{link}")).text
    assert '<details class="part part-tool"><summary>Tool: image</summary>' in page
    assert "Echo: a red fox reading a newspaper" in page
    src = re.search(r'<figure class="part part-image"><a href="([^"]+)"[^>]*><img src="\1"',
                    page)
    assert src is not None
    r = await client.get(src[1].replace("&amp;", "&"))
    assert r.status_code == 200 and r.content == PNG
    archive = await client.get(f"/api/v1/chats/share/{link}/files.zip")
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        assert PNG in [z.read(name) for name in z.namelist()]


@pytest.mark.parametrize("image_settings", [{"image_base_url": ""}])
async def test_without_an_images_api_image_says_what_to_set(
    alice: UserClient, fake_llm: FakeOpenAIServer
) -> None:
    requests = len(fake_llm.image_requests)
    events = await alice.chat_events(QUESTION)
    text = "".join(e["data"] for e in events if e["type"] == "message")
    assert "SALON_IMAGE_BASE_URL and SALON_IMAGE_MODEL" in text
    assert [e["data"] for e in events if e["type"] == "status"] == [
        "/image is not available on this server"]
    help_text = "".join(e["data"] for e in await alice.chat_events("/help")
                        if e["type"] == "message")
    missing = help_text.partition("Not available on this server:")[2]
    assert "`/image`: Generate an image. (set SALON_IMAGE_BASE_URL" in missing
    options = (await alice.http.get("/api/chat/options")).json()
    assert options["image"] == "Generate an image. (not available on this server)"
    assert len(fake_llm.image_requests) == requests


async def test_help_lists_image_where_it_is_configured(alice: UserClient) -> None:
    events = await alice.chat_events("/help")
    usable = "".join(e["data"] for e in events if e["type"] == "message").partition(
        "Not available")[0]
    assert "- `/image`: Generate an image." in usable
    assert (await alice.http.get("/api/chat/options")).json()["image"] == "Generate an image."


@pytest.mark.parametrize("image_settings", [{"image_model": HANG_IMAGE_MODEL}])
async def test_stop_while_the_image_is_drawn_keeps_an_interrupted_answer(
    settings: Settings,
) -> None:
    """Over real HTTP: the client leaves (the Stop button) while the images API is silent."""
    with serve(settings) as base:
        auth = await sign_up(base)
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=30) as c:
            async with c.stream("POST", "/api/chat", json={"q": QUESTION}, headers=SSE) as r:
                events = []
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        if events[-1] == {"type": "status", "data":
                                          f"Generating the image with {HANG_IMAGE_MODEL}"}:
                            break
            chat = await wait_for_answer(c, events[0]["data"]["conversationId"])
    assert chat[1]["status"] == "interrupted"
    assert "/files/" not in json.dumps(chat[1])
