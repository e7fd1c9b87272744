"""The settings page's "Your chats" card in a browser: import an uploaded chat file, then
download every chat as one ZIP."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch, SalonServer, sign_up
from tests.test_cli import CHAT_FILE

pytestmark = pytest.mark.browser

OpenPage = Callable[..., tuple[Page, PageWatch]]


def test_import_a_file_then_download_everything(
    open_page: OpenPage, salon: SalonServer, tmp_path: Path
) -> None:
    page, _ = open_page()
    sign_up(page, salon.url)
    source = tmp_path / "elsewhere.salon.json"
    source.write_text(json.dumps(CHAT_FILE), encoding="utf-8")
    page.goto(f"{salon.url}/settings")
    page.get_by_label("File (JSON)").set_input_files(source)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(
        "elsewhere.salon.json: 1 imported, 0 already there, 0 failed.")
    page.get_by_label("Format").select_option("markdown")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download all chats").click()
    download = info.value
    assert download.suggested_filename.startswith("salon-chats-")
    with zipfile.ZipFile(download.path()) as archive:
        [name] = archive.namelist()
        assert name == "brought-from-elsewhere.md"
        assert "Hello" in archive.read(name).decode()
