"""Image data URLs and file names."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salon.domain.errors import InvalidInput
from salon.domain.files import decode_image_data_url, safe_filename

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


def url(media: str, data: bytes) -> str:
    return f"data:{media};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize(
    ("media", "data"),
    [("image/png", PNG_HEAD), ("image/jpeg", b"\xff\xd8\xff\xe0rest"),
     ("image/jpg", b"\xff\xd8\xffx"), ("image/gif", b"GIF89a..."),
     ("image/webp", b"RIFF\0\0\0\0WEBPVP8 ")],
)
def test_accepts_real_images(media: str, data: bytes) -> None:
    image = decode_image_data_url(url(media, data), index=0)
    assert image.data == data and image.media_type.startswith("image/")


@pytest.mark.parametrize(
    "bad",
    ["", "http://example.com/x.png", "data:image/png,rawdata", url("image/svg+xml", b"<svg/>"),
     url("image/png", b"GIF89a"), url("image/webp", b"RIFF\0\0\0\0AVI "), url("image/png", b""),
     "data:image/png;base64,@@@"],
)
def test_refuses_everything_else(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        decode_image_data_url(bad, index=3)
    assert info.value.code == "INVALID_IMAGE" and "images[3]" in info.value.detail


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("report.txt", "report.txt"), ("../../etc/passwd", "passwd"), ("C:\\x\\y.doc", "y.doc"),
     (".htaccess", "htaccess"), ("a\x00b\nc.txt", "abc.txt"), ("", "file"), ("..", "file")],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


@given(st.text(max_size=600))
def test_safe_filename_never_has_a_path(raw: str) -> None:
    name = safe_filename(raw)
    assert "/" not in name and "\\" not in name and 0 < len(name) <= 255
    assert not name.startswith(".")
