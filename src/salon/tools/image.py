"""``/image``: the chat model improves the prompt, an OpenAI-compatible images API draws it.

As Khoj does, the chat model first turns the request (with the conversation, date and place
of the system prompt) into a vivid, detailed description; that prompt is shown in a
collapsible ``tool_call`` part. The images API (``POST {SALON_IMAGE_BASE_URL}/images/
generations``) is the admin's choice and is called directly, even on a private network; an
image it returns by URL is fetched through the guarded web client (``services.web_fetch``:
the SSRF rules, size and time limits), since that URL comes from outside. Either way the bytes
must be a PNG, JPEG, WebP or GIF image within ``SALON_FETCH_MAX_BYTES``; the chat service then
stores them as a blob with an ``image`` part.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from salon.config import Settings
from salon.domain.fetching import FetchRefused
from salon.domain.files import image_extension, sniff_image_type
from salon.llm.base import ChatMessage, GenerationParams, Provider
from salon.services.web_fetch import Fetched, read_limited
from salon.tools import MadeFile, ToolEvent, ToolResult, ToolStatus, complete, with_instructions

IMAGE_API_FAILED = "IMAGE_API_FAILED"  # the images API failed, timed out or answered nonsense
IMAGE_INVALID = "IMAGE_INVALID"  # what came back is not an accepted image (or is too large)
MAX_PROMPT_CHARS = 4000  # dall-e-3's limit, the strictest common one
INSTRUCTIONS = (
    "You are a talented visual artist. Do not answer the user: write the prompt for an image "
    "generator instead. Describe the image the user asks for in vivid, fine detail: the "
    "subject, its position and surroundings, the style (painting, photograph, illustration), "
    "lighting, colours and camera or brush details. Use the conversation, today's date and "
    "the user's place where they help, and keep every instruction the user gave. Answer with "
    "the description only, in prose, in at most 120 words: no preamble, no quotes, no lists."
)
ANSWER_TEXT = "Here is the image."

UrlFetcher = Callable[[str], Awaitable[Fetched]]


@dataclass(frozen=True)
class ImageApi:
    base_url: str
    api_key: str
    model: str
    size: str
    response_format: str
    timeout: float
    max_bytes: int


def image_api(settings: Settings) -> ImageApi | None:
    """The configured images API; None when ``/image`` is not set up on this server."""
    if not (settings.image_base_url and settings.image_model):
        return None
    return ImageApi(base_url=settings.image_base_url.rstrip("/"),
                    api_key=settings.image_api_key, model=settings.image_model,
                    size=settings.image_size, response_format=settings.image_response_format,
                    timeout=settings.image_timeout, max_bytes=settings.fetch_max_bytes)


class _ImageFailed(Exception):
    def __init__(self, text: str, code: str) -> None:
        super().__init__(text)
        self.text, self.code = text, code


async def make_image(
    provider: Provider, messages: list[ChatMessage], params: GenerationParams, *,
    api: ImageApi, fetch_url: UrlFetcher,
) -> AsyncIterator[ToolEvent]:
    """Draw the last message of ``messages`` (system prompt first, then the conversation).
    Yields statuses, then the result: the text, a ``tool_call`` part holding the improved
    prompt, and the image as a file to store; or, on failure, the reason with the prompt
    part alone (``error_code`` IMAGE_API_FAILED, IMAGE_INVALID or a FETCH_* code)."""
    usage: dict[str, int] = {}
    yield ToolStatus("Improving the image prompt")
    request = messages[-1].content if messages else ""
    reply = await complete(provider, with_instructions(messages, INSTRUCTIONS), params, usage)
    prompt = _clean_prompt(reply) or request[:MAX_PROMPT_CHARS]
    part: dict[str, Any] = {"type": "tool_call", "id": f"image-{uuid.uuid4().hex[:12]}",
                            "name": "image", "arguments": {"prompt": prompt}, "result": None}
    yield ToolStatus(f"Generating the image with {api.model}")
    try:
        data = await _generate(api, prompt, fetch_url)
        media_type = _checked_image(data, api.max_bytes)
    except _ImageFailed as exc:
        yield ToolResult(text=exc.text, parts=[part], usage=usage, error_code=exc.code)
        return
    part["result"] = {"media_type": media_type, "size": len(data)}
    image = MadeFile(kind="image", name=f"image.{image_extension(media_type)}",
                     media_type=media_type, data=data, alt=prompt[:300])
    yield ToolResult(text=ANSWER_TEXT, parts=[part], files=[image], usage=usage)


def _clean_prompt(reply: str) -> str:
    return reply.strip().strip('"“”').strip()[:MAX_PROMPT_CHARS]


async def _generate(api: ImageApi, prompt: str, fetch_url: UrlFetcher) -> bytes:
    item = await _request_image(api, prompt)
    if isinstance(item.get("b64_json"), str):
        try:
            return base64.b64decode(item["b64_json"], validate=True)
        except (binascii.Error, ValueError):
            raise _ImageFailed("The images API sent invalid base64 data.",
                               IMAGE_API_FAILED) from None
    if isinstance(item.get("url"), str):
        try:
            return (await fetch_url(item["url"])).body
        except FetchRefused as exc:
            raise _ImageFailed(f"The image the API made could not be fetched: {exc.detail}",
                               exc.code) from exc
    raise _ImageFailed("The images API answered neither b64_json nor url.", IMAGE_API_FAILED)


async def _request_image(api: ImageApi, prompt: str) -> dict[str, Any]:
    """The first item of the API's ``data`` list; its answer is read up to the size limit
    (base64 makes an image a third larger)."""
    body: dict[str, Any] = {"model": api.model, "prompt": prompt, "n": 1}
    if api.size:
        body["size"] = api.size
    if api.response_format:
        body["response_format"] = api.response_format
    headers = {"Authorization": f"Bearer {api.api_key}"} if api.api_key else {}
    url = f"{api.base_url}/images/generations"
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(api.timeout)) as client, \
                client.stream("POST", url, json=body, headers=headers) as response:
            raw = await read_limited(response, api.max_bytes * 4 // 3 + 65536, url)
    except FetchRefused as exc:
        raise _ImageFailed(f"The images API's answer was refused: {exc.detail}",
                           IMAGE_API_FAILED) from exc
    except httpx.TimeoutException:
        raise _ImageFailed(f"The images API did not answer within {api.timeout:g} s.",
                           IMAGE_API_FAILED) from None
    except httpx.HTTPError as exc:
        raise _ImageFailed(f"The images API could not be reached ({type(exc).__name__}).",
                           IMAGE_API_FAILED) from None
    return _first_item(response.status_code, raw, api.api_key)


def _first_item(status: int, raw: bytes, api_key: str) -> dict[str, Any]:
    try:
        parsed = httpx.Response(status, content=raw).json()
    except ValueError:
        parsed = None
    if status >= 400:
        message = _error_message(parsed)
        if api_key:
            message = message.replace(api_key, "***")
        raise _ImageFailed(f"The images API answered HTTP {status}{message}.", IMAGE_API_FAILED)
    data = parsed.get("data") if isinstance(parsed, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise _ImageFailed("The images API's answer holds no image.", IMAGE_API_FAILED)
    return data[0]


def _error_message(parsed: Any) -> str:
    error = parsed.get("error") if isinstance(parsed, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f": {str(message)[:300]}" if message else ""


def _checked_image(data: bytes, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise _ImageFailed(f"The image is larger than {max_bytes} bytes.", IMAGE_INVALID)
    media_type = sniff_image_type(data)
    if media_type is None:
        raise _ImageFailed("What the images API sent is not a PNG, JPEG, WebP or GIF image.",
                           IMAGE_INVALID)
    return media_type
