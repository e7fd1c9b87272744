"""QR codes of share links: owner only, SVG and PNG, plain and gradient, and the images really
encode the share's absolute URL (the module matrix read back equals segno's for that URL)."""

from __future__ import annotations

import re
import struct
import zlib
from xml.etree import ElementTree

import httpx
import pytest
import segno

from salon.web.api.share_qr import BORDER, SCALE
from tests.factories import UserClient

SVG_NS = "{http://www.w3.org/2000/svg}"


def qr_url(chat_id: str, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/chats/{chat_id}/share/qr" + (f"?{params}" if params else "")


def expected_matrix(url: str) -> list[list[int]]:
    qr = segno.make(url, error="m", micro=False)
    return [[int(bool(v)) for v in row] for row in qr.matrix_iter(scale=1, border=BORDER)]


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    """A PNG's chunks by type (IDAT joined), each checked against its CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, dict[bytes, bytes]()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        pos += 12 + length
    assert b"IEND" in chunks
    return chunks


def png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, raw scanlines) of a non-interlaced 8-bit PNG."""
    chunks = png_chunks(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and interlace == 0
    return width, height, {2: 3, 0: 1}[colour], zlib.decompress(chunks[b"IDAT"])


def gradient_png_matrix(data: bytes) -> tuple[list[list[int]], set[bytes]]:
    """The module matrix of our gradient PNG (sampled at module centres) and its dark colours."""
    width, height, bpp, raw = png_pixels(data)
    assert width == height and width % SCALE == 0
    stride = 1 + width * bpp
    matrix, colours = [], set()
    for y in range(SCALE // 2, height, SCALE):
        line = raw[y * stride:(y + 1) * stride]
        assert line[0] == 0  # filter "None"
        row = []
        for x in range(SCALE // 2, width, SCALE):
            pixel = line[1 + x * bpp:1 + (x + 1) * bpp]
            row.append(int(pixel != b"\xff" * bpp))
            if pixel != b"\xff" * bpp:
                colours.add(pixel)
        matrix.append(row)
    return matrix, colours


def gradient_svg_matrix(svg: bytes, size: int) -> list[list[int]]:
    root = ElementTree.fromstring(svg)
    path = root.find(f"{SVG_NS}path")
    assert path is not None and path.get("fill") == "url(#qr-gradient)"
    matrix = [[0] * size for _ in range(size)]
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path.get("d", "")):
        for dx in range(int(n)):
            matrix[int(y)][int(x) + dx] = 1
    return matrix


async def shared(user: UserClient, **options: object) -> tuple[str, dict]:
    chat_id = await user.new_conversation("a QR code, please")
    return chat_id, await user.share(chat_id, **options)


async def test_plain_svg_is_an_inline_image_with_a_strict_policy(alice: UserClient) -> None:
    chat_id, share = await shared(alice)
    r = await alice.http.get(qr_url(chat_id))
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.headers["content-disposition"].startswith("inline;")
    assert f"salon-share-{share['share_id']}.svg" in r.headers["content-disposition"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    root = ElementTree.fromstring(r.content)
    assert root.tag == f"{SVG_NS}svg"
    strokes = {path.get("stroke") for path in root.iter(f"{SVG_NS}path")}
    assert "#000" in strokes  # segno's dark modules
    assert b"<script" not in r.content and b"href" not in r.content


async def test_plain_png_encodes_the_share_url(alice: UserClient) -> None:
    chat_id, share = await shared(alice)
    r = await alice.http.get(qr_url(chat_id, format="png"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    expected = expected_matrix(share["url"])
    width, height = struct.unpack(">II", png_chunks(r.content)[b"IHDR"][:8])
    assert width == height == len(expected) * SCALE


async def test_gradient_png_encodes_the_url_in_many_colours(alice: UserClient) -> None:
    chat_id, share = await shared(alice, share_id="qr gradient test")
    assert share["url"].endswith("/s/qr-gradient-test")
    r = await alice.http.get(qr_url(chat_id, format="png", style="gradient"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    matrix, colours = gradient_png_matrix(r.content)
    assert matrix == expected_matrix(share["url"])
    assert len(colours) > 10  # a gradient, not one colour


async def test_gradient_svg_encodes_the_url(alice: UserClient) -> None:
    chat_id, share = await shared(alice)
    r = await alice.http.get(qr_url(chat_id, style="gradient"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    expected = expected_matrix(share["url"])
    assert gradient_svg_matrix(r.content, len(expected)) == expected
    assert b"linearGradient" in r.content


async def test_download_makes_an_attachment(alice: UserClient) -> None:
    chat_id, _ = await shared(alice)
    for fmt in ("svg", "png"):
        r = await alice.http.get(qr_url(chat_id, format=fmt, download="1"))
        assert r.status_code == 200
        assert r.headers["content-disposition"].startswith("attachment;")
        assert r.headers["content-disposition"].split('"')[1].endswith(f".{fmt}")


async def test_rotating_the_link_changes_the_code(alice: UserClient) -> None:
    chat_id, _ = await shared(alice)
    before = (await alice.http.get(qr_url(chat_id, format="png"))).content
    r = await alice.http.post(f"/api/v1/chats/{chat_id}/share/rotate")
    assert r.status_code == 200
    after = (await alice.http.get(qr_url(chat_id, format="png"))).content
    assert before != after


async def test_another_user_gets_404(alice: UserClient, bob: UserClient) -> None:
    chat_id, _ = await shared(alice)
    r = await bob.http.get(qr_url(chat_id))
    assert r.status_code == 404
    assert r.json()["code"] and "svg" not in r.headers["content-type"]


async def test_not_shared_and_unknown_chats_are_404(alice: UserClient) -> None:
    chat_id = await alice.new_conversation("never shared")
    r = await alice.http.get(qr_url(chat_id))
    assert r.status_code == 404 and r.json()["code"] == "SHARE_NOT_FOUND"
    assert (await alice.http.get(qr_url("no-such-chat"))).status_code == 404


async def test_anonymous_is_refused(client: httpx.AsyncClient, alice: UserClient) -> None:
    chat_id, _ = await shared(alice)
    r = await client.get(qr_url(chat_id))
    assert r.status_code == 401


@pytest.mark.parametrize("query", [
    {"format": "gif"}, {"style": "rainbow"}, {"download": "maybe"}, {"format": ""},
])
async def test_bad_values_are_422(alice: UserClient, query: dict[str, str]) -> None:
    chat_id, _ = await shared(alice)
    r = await alice.http.get(qr_url(chat_id, **query))
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_ERROR"
