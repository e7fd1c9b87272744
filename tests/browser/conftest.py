"""Browser tests: Playwright drives Debian's Chromium against real server processes.

One fake model server (``python -m tests.fakes.openai_server``) and two Salon servers
(``python -m tests.browser.server_main``) run for the whole session, each on a free port with
its own data directory: one answers at full speed, one streams slowly enough to watch.
"""

from __future__ import annotations

import os
import re
import selectors
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_TIMEOUT = 30.0
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()


def read_line(proc: subprocess.Popen[str], *, timeout: float) -> str:
    """The process's next stdout line, or "" if it printed none in time."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return proc.stdout.readline()


@pytest.fixture(scope="session")
def fake_llm_url() -> Iterator[str]:
    """The fake OpenAI-compatible server's base URL (add ``/v1`` or ``/slow/v1``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = read_line(proc, timeout=START_TIMEOUT)
        match = re.search(r"http://[\d.]+:\d+", line)
        if not match:
            raise RuntimeError(f"the fake model server did not start: {line!r}")
        yield match.group(0)
    finally:
        stop_process(proc)


@dataclass
class SalonServer:
    """A Salon process on a free port; ``url`` is its base URL."""

    data_dir: Path
    llm_base_url: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    env: dict[str, str] = field(default_factory=dict)  # more settings, over the defaults
    wrapper: list[str] = field(default_factory=list)  # a command to run it under (unshare ...)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SalonServer:
        env = {
            **os.environ,
            "SALON_ENV": "test",
            "SALON_DATA_DIR": str(self.data_dir),
            "SALON_DATABASE_URL": "",
            "SALON_LLM_PROVIDER": "openai",
            "SALON_LLM_BASE_URL": self.llm_base_url,
            "SALON_LLM_MODEL": "fake-model",
            "SALON_LLM_TIMEOUT": "10",
            # Every test signs up its own people from 127.0.0.1 on one long-lived server.
            "SALON_SIGNUP_LIMIT_PER_HOUR": "10000",
            **self.env,
        }
        self.proc = subprocess.Popen(
            [*self.wrapper, sys.executable, "-m", "tests.browser.server_main",
             "--port", str(self.port)],
            cwd=ROOT, env=env, text=True,
        )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Salon exited with {self.proc.returncode} while starting")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("Salon did not become healthy in time")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


def _salon(tmp_path_factory: pytest.TempPathFactory, llm_base_url: str) -> Iterator[SalonServer]:
    server = SalonServer(data_dir=tmp_path_factory.mktemp("salon"), llm_base_url=llm_base_url)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def salon(tmp_path_factory: pytest.TempPathFactory, fake_llm_url: str) -> Iterator[SalonServer]:
    """Salon whose model answers at once."""
    yield from _salon(tmp_path_factory, f"{fake_llm_url}/v1")


@pytest.fixture(scope="session")
def slow_salon(
    tmp_path_factory: pytest.TempPathFactory, fake_llm_url: str
) -> Iterator[SalonServer]:
    """Salon whose model streams a word every 100 ms (fresh: nobody has signed up)."""
    yield from _salon(tmp_path_factory, f"{fake_llm_url}/slow/v1")


@pytest.fixture(scope="session")
def failing_salon(
    tmp_path_factory: pytest.TempPathFactory, fake_llm_url: str
) -> Iterator[SalonServer]:
    """Salon whose model answers every request with HTTP 500."""
    yield from _salon(tmp_path_factory, f"{fake_llm_url}/fail-500/v1")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Module-scoped: while Playwright's sync API is open its event loop counts as running,
    so it must close before the asyncio tests of other modules run."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class PageWatch:
    """What a page did that it never should: JavaScript dialogs, script errors, console errors
    (CSP violations are reported there)."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., tuple[Page, PageWatch]]]:
    """``open_page(width=..., height=...)`` → a page in a fresh browser context (its own
    cookies) and its watch. At the end of the test no page may have shown a JavaScript dialog
    or logged an error."""
    contexts = []
    watches: list[PageWatch] = []

    def _open(width: int = 1280, height: int = 800) -> tuple[Page, PageWatch]:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        watch = PageWatch()
        page.on("dialog", watch.on_dialog)
        page.on("console", watch.on_console)
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        watches.append(watch)
        return page, watch

    yield _open
    for context in contexts:
        context.close()
    for watch in watches:
        assert watch.dialogs == [], watch.dialogs
        assert watch.errors == [], watch.errors


def sign_up(page: Page, base_url: str, *, name: str | None = None) -> str:
    """Create an account through the sign-up form; returns its email. Ends on the chat page."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    page.goto(f"{base_url}/signup")
    page.get_by_label("Name").fill(name or "Tester")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{base_url}/")
    return email
