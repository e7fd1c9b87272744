"""The ``salon`` command, run as users run it: ``python -m salon ...`` in a subprocess."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def salon_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any SALON_* or admin variable, plus ``extra`` (which
    may override the defaults: no model, 200 columns)."""
    admin = {"USER_PERMISSIONS_CHAT_SHARE", "USER_PERMISSIONS_SHARING_PUBLIC_CHAT",
             "USER_PERMISSIONS_CHAT_CLONE", "ENABLE_COMMUNITY_SHARING"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALON_") and k not in admin}
    env.update(SALON_DATA_DIR=str(data_dir), SALON_LLM_PROVIDER="none", COLUMNS="200")
    env.update(extra)
    return env


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def salon(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salon", *args],
        env=salon_env(data_dir, **env), capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], *, says: str) -> None:
    assert result.returncode != 0, result.stdout
    assert says in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def create_user(data_dir: Path, email: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return salon(data_dir, "user", "create", "--email", email, "--name", "Ada Admin",
                 "--password", PASSWORD, *extra)


def test_db_upgrade_creates_the_sqlite_database(data_dir: Path) -> None:
    result = salon(data_dir, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    db = data_dir / "salon.db"
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert f"revision {revision}" in result.stdout
    again = salon(data_dir, "db", "upgrade")
    assert again.returncode == 0 and f"revision {revision}" in again.stdout


def test_user_create_then_list(data_dir: Path) -> None:
    created = create_user(data_dir, "ada@example.com", "--admin")
    assert created.returncode == 0, created.stderr
    assert "Created admin ada@example.com" in created.stdout
    listed = salon(data_dir, "user", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "ada@example.com" in line)
    assert "Ada Admin" in row and "admin" in row


def test_set_role_promotes_and_keeps_the_last_admin(data_dir: Path) -> None:
    assert create_user(data_dir, "ada@example.com").returncode == 0
    assert create_user(data_dir, "bob@example.com").returncode == 0
    promoted = salon(data_dir, "user", "set-role", "bob@example.com", "admin")
    assert promoted.returncode == 0 and "bob@example.com is now admin" in promoted.stdout
    assert salon(data_dir, "user", "set-role", "ada@example.com", "user").returncode == 0
    assert_clean_failure(salon(data_dir, "user", "set-role", "bob@example.com", "user"),
                         says="only admin")
    assert_clean_failure(salon(data_dir, "user", "set-role", "nobody@example.com", "user"),
                         says="No account")


def test_duplicate_email_is_refused_cleanly(data_dir: Path) -> None:
    assert create_user(data_dir, "ada@example.com").returncode == 0
    assert_clean_failure(create_user(data_dir, "ADA@example.com"), says="already exists")


@pytest.mark.parametrize(
    ("email", "password", "says"),
    [("not-an-email", PASSWORD, "valid email"), ("ada@example.com", "short", "at least 8")],
)
def test_invalid_input_is_refused_cleanly(
    data_dir: Path, email: str, password: str, says: str
) -> None:
    result = salon(data_dir, "user", "create", "--email", email, "--name", "Ada",
                   "--password", password)
    assert_clean_failure(result, says=says)


def test_serve_refuses_several_workers_on_sqlite(data_dir: Path) -> None:
    result = salon(data_dir, "serve", "--workers", "2")
    assert result.returncode == 2
    assert_clean_failure(result, says="PostgreSQL")


def test_serve_explains_its_options_and_their_mistakes(data_dir: Path) -> None:
    """``salon serve`` reads plain options itself; help and mistakes are the command line's."""
    shown = salon(data_dir, "serve", "--help")
    assert shown.returncode == 0
    assert all(option in shown.stdout for option in ("--host", "--port", "--workers"))
    assert "1<=x<=65535" in shown.stdout
    for args, says in ((["--port", "0"], "--port"), (["--workers", "65"], "--workers"),
                       (["--port"], "--port"), (["--bind", "x"], "--bind")):
        refused = salon(data_dir, "serve", *args)
        assert refused.returncode == 2, args
        assert says in refused.stderr and "Traceback" not in refused.stderr, refused.stderr


CHAT_FILE = {
    "format": "salon.conversation", "version": 1, "exported_at": "2025-05-04T10:00:00+00:00",
    "conversation": {
        "id": "elsewhere-1", "title": "Brought from elsewhere",
        "created_at": "2025-05-04T10:00:00+00:00", "updated_at": "2025-05-04T10:01:00+00:00",
        "recipe": {"model": "m1"},
        "messages": [
            {"role": "user", "created_at": "2025-05-04T10:00:00+00:00",
             "parts": [{"type": "text", "text": "Hello"},
                       {"type": "file", "file_id": "f", "name": "a.txt",
                        "media_type": "text/plain", "size": 2}]},
            {"role": "assistant", "created_at": "2025-05-04T10:00:05+00:00", "model": "m1",
             "parts": [{"type": "text", "text": "Hi!"}]},
        ],
        "files": [{"id": "f", "name": "a.txt", "media_type": "text/plain",
                   "data": "aGk="}],
    },
}


def test_import_then_export_round_trips(data_dir: Path, tmp_path: Path) -> None:
    assert salon(data_dir, "user", "create", "--email", "ada@example.com", "--name", "Ada",
                 "--password", "correct horse battery").returncode == 0
    source = tmp_path / "chat.salon.json"
    source.write_text(json.dumps(CHAT_FILE), encoding="utf-8")
    result = salon(data_dir, "import", str(source), "--user", "ada@example.com")
    assert result.returncode == 0, result.stderr
    assert "1 imported, 0 skipped, 0 failed." in result.stdout
    chat_id = re.search(r"Imported #0: Brought from elsewhere \(([^)]+)\)", result.stdout)
    assert chat_id, result.stdout
    again = salon(data_dir, "import", str(source), "--user", "ada@example.com")
    assert again.returncode == 0 and f"already imported as {chat_id.group(1)}" in again.stdout
    out = tmp_path / "out.json"
    result = salon(data_dir, "export", chat_id.group(1), "--user", "ada@example.com",
                   "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"Wrote {out}" in result.stdout
    back = json.loads(out.read_text(encoding="utf-8"))["conversation"]
    assert back["title"] == "Brought from elsewhere" and back["recipe"] == {"model": "m1"}
    assert [[p.get("text") for p in m["parts"]] for m in back["messages"]] == [
        ["Hello", None], ["Hi!"]]
    assert [f["data"] for f in back["files"]] == ["aGk="]


def test_import_reports_broken_conversations_and_exits_1(data_dir: Path, tmp_path: Path) -> None:
    assert salon(data_dir, "user", "create", "--email", "ada@example.com", "--name", "Ada",
                 "--password", "correct horse battery").returncode == 0
    broken = json.loads(json.dumps(CHAT_FILE))
    broken["conversation"]["messages"][0]["role"] = "robot"
    source = tmp_path / "both.json"
    source.write_text(json.dumps([CHAT_FILE, broken]), encoding="utf-8")
    result = salon(data_dir, "import", str(source), "--user", "ada@example.com")
    assert result.returncode == 1
    assert "1 imported, 0 skipped, 1 failed." in result.stdout
    assert "Failed #1: conversation.messages[0].role must be one of" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "content", "code", "says"), [
    (["import", "{file}", "--user", "nobody@example.com"], CHAT_FILE, 1, "No account"),
    (["import", "{file}", "--user", "ada@example.com"], "not json", 1, "is not valid JSON"),
    (["import", "{file}", "--user", "ada@example.com"], {"x": 1}, 1,
     "Salon imports its own conversation files"),
    (["import", "{missing}", "--user", "ada@example.com"], None, 1, "cannot read"),
    (["export", "no-such-chat", "--user", "ada@example.com"], None, 1, "not found"),
    (["export", "any", "--user", "ada@example.com", "--format", "docx"], None, 2,
     "Unknown export format"),
])
def test_export_and_import_mistakes_are_one_clear_line(
    data_dir: Path, tmp_path: Path, args: list[str], content: object, code: int, says: str
) -> None:
    assert salon(data_dir, "user", "create", "--email", "ada@example.com", "--name", "Ada",
                 "--password", "correct horse battery").returncode == 0
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content),
                        encoding="utf-8")
    filled = [a.format(file=path, missing=tmp_path / "missing.json") for a in args]
    result = salon(data_dir, *filled)
    assert result.returncode == code, result.stdout + result.stderr
    assert_clean_failure(result, says=says)


def test_invalid_setting_names_its_variable(data_dir: Path) -> None:
    result = salon(data_dir, "db", "upgrade", SALON_PORT="abc")
    assert result.returncode == 2
    assert_clean_failure(result, says="SALON_PORT")


def test_production_without_a_secret_is_refused(data_dir: Path) -> None:
    result = salon(data_dir, "serve", SALON_ENV="production")
    assert result.returncode == 2
    assert_clean_failure(result, says="SALON_SECRET_KEY")


@pytest.mark.parametrize(
    ("url", "says"),
    [("not a url", "not a usable database URL"),
     (f"postgresql://salon:secret@127.0.0.1:{free_port()}/salon", "cannot use the database")],
)
def test_unusable_database_is_reported_cleanly(data_dir: Path, url: str, says: str) -> None:
    result = salon(data_dir, "db", "upgrade", SALON_DATABASE_URL=url)
    assert_clean_failure(result, says=says)
    assert "secret" not in result.stderr


@pytest.fixture
def served_env() -> dict[str, str]:
    """Extra environment for the ``served`` server; parametrise to change."""
    return {}


@pytest.fixture
def served(
    data_dir: Path, served_env: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "salon", "serve", "--port", str(port)],
        env=salon_env(data_dir, **served_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, stdin=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            stop(proc)


def stop(proc: subprocess.Popen[str]) -> str:
    """Terminate ``proc`` (killing it if it lingers) and return its output."""
    proc.terminate()
    try:
        return proc.communicate(timeout=15)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0]


def wait_healthy(url: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 60
    with httpx.Client(trust_env=False, timeout=2) as http:
        while True:
            assert proc.poll() is None, "salon serve exited early"
            try:
                return http.get(f"{url}/healthz")
            except httpx.TransportError:
                assert time.monotonic() < deadline, "salon serve did not answer within 60 s"
                time.sleep(0.2)


def test_serve_answers_healthz_on_the_given_port(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, proc = served
    response = wait_healthy(url, proc)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert f"serving on {url}" in stop(proc)


def failed_signins_until_limited(url: str, *, forwarded_for: list[str]) -> int:
    """Sign in with a wrong password, each time claiming another X-Forwarded-For address;
    the number of attempts before the first 429 (0 if none came)."""
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as http:
        http.post("/api/v1/auths/signup", json={"name": "A", "email": "a@example.com",
                                                "password": "long enough pw"})
        for i, address in enumerate(forwarded_for):
            r = http.post("/api/v1/auths/signin", headers={"X-Forwarded-For": address},
                          json={"email": "a@example.com", "password": "wrong password"})
            if r.status_code == 429:
                return i
    return 0


@pytest.mark.parametrize(
    ("served_env", "limited_after"),
    [({}, 0), ({"SALON_TRUSTED_PROXIES": "10.9.9.9"}, 10)],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    served: tuple[str, subprocess.Popen[str]], limited_after: int
) -> None:
    url, proc = served
    wait_healthy(url, proc)
    addresses = [f"203.0.113.{i}" for i in range(12)]
    # From a trusted proxy (we are 127.0.0.1) every address is its own client: never limited.
    # From an untrusted one the header is ignored: one client, limited after 10 failures.
    assert failed_signins_until_limited(url, forwarded_for=addresses) == limited_after


def test_serve_keeps_an_idle_connection_open_longer_than_clients_reuse_one(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    """A request on a connection idle for 6 s (more than uvicorn's default 5 s, which httpx
    and nginx outlast) is answered on that same connection, not refused by its closing."""
    url, proc = served
    wait_healthy(url, proc)
    parts = httpx.URL(url)
    conn = http.client.HTTPConnection(parts.host, parts.port, timeout=30)
    try:
        conn.request("GET", "/healthz")
        assert conn.getresponse().read()
        first = conn.sock
        time.sleep(6)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200 and conn.sock is first
    finally:
        conn.close()
