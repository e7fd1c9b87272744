"""``salon doctor``: a healthy install, then each part broken on its own, read as a user reads
the output (the mark, the summary, the fix under it) and by the exit code."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import click
import pytest

from salon.cli import doctor_summary, format_check
from salon.config import Settings
from salon.exports.pdf import missing_fonts
from salon.services import doctor
from tests.fakes.openai_server import FakeOpenAIServer
from tests.test_cli import data_dir, free_port, salon

__all__ = ["data_dir"]  # the fixture, shared with tests/test_cli.py

OK, WARN, FAIL, SKIP = "✓", "!", "✗", "-"
REDIS_URL = os.environ.get("SALON_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def model_env(server: FakeOpenAIServer, mode: str = "", **extra: str) -> dict[str, str]:
    """Settings for the fake OpenAI-compatible server, in ``mode`` (see its docstring)."""
    prefix = f"/{mode}" if mode else ""
    return {"SALON_LLM_PROVIDER": "openai", "SALON_LLM_BASE_URL": f"{server.url}{prefix}/v1",
            "SALON_LLM_MODEL": "fake-model", **extra}


def run_doctor(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = salon(data_dir, "doctor", *args, **env)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def reported(output: str, name: str) -> tuple[str, str, str | None]:
    """The mark, summary and fix (None without one) doctor printed for the check ``name``."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line[2:11].rstrip() == name:
            after = lines[index + 1] if index + 1 < len(lines) else ""
            fix = after.removeprefix("    fix: ") if after.startswith("    fix: ") else None
            return line[0], line[12:], fix
    raise AssertionError(f"no {name!r} line in:\n{output}")


def migrated(data_dir: Path, *, revision: str | None = None) -> None:
    """The data folder's SQLite database, migrated, then set to ``revision`` if given."""
    assert salon(data_dir, "db", "upgrade").returncode == 0
    if revision is not None:
        with sqlite3.connect(data_dir / "salon.db") as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def test_a_healthy_install_passes_every_check(
    data_dir: Path, database_url: str, fake_llm: FakeOpenAIServer
) -> None:
    result = run_doctor(data_dir, **model_env(fake_llm, SALON_DATABASE_URL=database_url))
    assert result.returncode == 0, result.stdout
    for name in ("settings", "database", "data dir", "model"):
        mark, summary, fix = reported(result.stdout, name)
        assert (mark, fix) == (OK, None), f"{name}: {summary}"
    assert "migrations at head" in reported(result.stdout, "database")[1]
    model = reported(result.stdout, "model")[1]
    assert model.startswith("fake-model answered in ")
    assert '"Echo: What is the capital of France?"' in model
    assert reported(result.stdout, "redis")[0] == SKIP
    fonts_ok = not missing_fonts()
    assert reported(result.stdout, "fonts")[0] == (OK if fonts_ok else WARN)
    expected = "Everything works." if fonts_ok else "Everything Salon needs works (1 warning)."
    assert result.stdout.splitlines()[-1] == expected


def test_json_output_has_every_check(data_dir: Path) -> None:
    migrated(data_dir)
    result = run_doctor(data_dir, "--json", "--skip-model")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["healthy"] is True
    assert [c["name"] for c in report["checks"]] == [
        "settings", "database", "data dir", "redis", "fonts", "model"]
    assert report["checks"][-1]["status"] == "skip"


@pytest.mark.parametrize(("env", "variable"), [
    ({"SALON_PORT": "abc"}, "SALON_PORT"),
    ({"SALON_ENV": "production"}, "SALON_SECRET_KEY"),
])
def test_an_invalid_setting_is_named_with_its_fix(
    data_dir: Path, env: dict[str, str], variable: str
) -> None:
    result = run_doctor(data_dir, **env)
    assert result.returncode == 1
    mark, summary, fix = reported(result.stdout, "settings")
    assert mark == FAIL and variable in summary
    assert fix is not None and "README's Settings table" in fix
    assert result.stdout.splitlines()[-1] == "Broken: settings. Each fix is shown under its line."


def test_a_risky_setting_is_a_warning(data_dir: Path) -> None:
    migrated(data_dir)
    result = run_doctor(data_dir, "--skip-model", SALON_HOST="0.0.0.0")
    assert result.returncode == 0
    mark, summary, fix = reported(result.stdout, "settings")
    assert mark == WARN and "development secret" in summary
    assert fix is not None and "SALON_SECRET_KEY" in fix


def test_an_unreachable_database_fails_quickly_without_its_password(data_dir: Path) -> None:
    url = f"postgresql://salon:secret@127.0.0.1:{free_port()}/salon"
    started = time.monotonic()
    result = run_doctor(data_dir, "--skip-model", SALON_DATABASE_URL=url)
    assert time.monotonic() - started < 20
    assert result.returncode == 1
    mark, summary, fix = reported(result.stdout, "database")
    assert mark == FAIL and "cannot use PostgreSQL at postgresql://salon:***@" in summary
    assert fix is not None and fix.startswith("start PostgreSQL there, or correct SALON_DATA")
    assert "secret" not in result.stdout + result.stderr


@pytest.mark.parametrize(("revision", "mark", "code", "says", "fix_says"), [
    ("9999", FAIL, 1, "at migration 9999, which this Salon does not know",
     "run the Salon version that migrated it"),
    ("0004", WARN, 0, "is at migration 0004, behind", "run `salon db upgrade`"),
    (None, WARN, 0, "no SQLite database yet", "run `salon db upgrade`"),
])
def test_database_migrations(
    data_dir: Path, revision: str | None, mark: str, code: int, says: str, fix_says: str
) -> None:
    if revision is not None:
        migrated(data_dir, revision=revision)
    result = run_doctor(data_dir, "--skip-model")
    assert result.returncode == code, result.stdout
    found_mark, summary, fix = reported(result.stdout, "database")
    assert found_mark == mark and says in summary
    assert fix is not None and fix_says in fix


def test_a_data_dir_that_is_a_file_fails(data_dir: Path) -> None:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.write_text("not a folder", encoding="utf-8")
    result = run_doctor(data_dir, "--skip-model")
    assert result.returncode == 1
    mark, summary, fix = reported(result.stdout, "data dir")
    assert mark == FAIL and summary.endswith("it is a file, not a folder")
    assert fix == (f"make {data_dir} a folder the user running Salon can write to, "
                   "or set SALON_DATA_DIR to one")


@pytest.mark.parametrize(("env", "says", "fix_says"), [
    ({"SALON_LLM_PROVIDER": "local", "SALON_LOCAL_MODEL_PATH": "/nowhere/model.gguf"},
     "/nowhere/model.gguf", "point SALON_LOCAL_MODEL_PATH at a GGUF model file"),
    ({"SALON_LLM_PROVIDER": "openai", "SALON_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"},
     "LLM_UNAVAILABLE", "start the model server"),
    ({"SALON_LLM_PROVIDER": "openai"}, "needs SALON_LLM_BASE_URL", "set SALON_LLM_BASE_URL"),
])
def test_a_broken_model_fails_with_its_fix(
    data_dir: Path, env: dict[str, str], says: str, fix_says: str
) -> None:
    migrated(data_dir)
    result = run_doctor(data_dir, **env)
    assert result.returncode == 1
    mark, summary, fix = reported(result.stdout, "model")
    assert mark == FAIL and says in summary
    assert fix is not None and fix.startswith(fix_says)


def test_a_refused_api_key_is_not_shown(data_dir: Path, fake_llm: FakeOpenAIServer) -> None:
    migrated(data_dir)
    result = run_doctor(data_dir, **model_env(fake_llm, "fail-401", SALON_LLM_API_KEY="sk-x1y2"))
    assert result.returncode == 1
    mark, summary, fix = reported(result.stdout, "model")
    assert mark == FAIL and "LLM_AUTH_FAILED" in summary
    assert fix == "set SALON_LLM_API_KEY to a key the model server accepts"
    assert "sk-x1y2" not in result.stdout


def test_no_model_configured_is_a_warning(data_dir: Path) -> None:
    migrated(data_dir)
    result = run_doctor(data_dir, SALON_LLM_PROVIDER="none")
    assert result.returncode == 0
    mark, summary, fix = reported(result.stdout, "model")
    assert mark == WARN and "no model configured" in summary
    assert fix is not None and fix.startswith("set SALON_LLM_BASE_URL to an OpenAI-compatible")


async def test_a_model_that_does_not_answer_in_time_fails(
    tmp_path: Path, fake_llm: FakeOpenAIServer
) -> None:
    settings = Settings(data_dir=tmp_path, llm_provider="openai", llm_model="fake-model",
                        llm_base_url=f"{fake_llm.url}/hang/v1")
    result = await doctor.check_model(settings, timeout=0.5)
    assert result.status == "fail" and "no answer within 0.5 s" in result.summary
    assert result.fix is not None and "SALON_LLM_TIMEOUT" in result.fix


def test_a_redis_that_does_not_answer_fails(data_dir: Path) -> None:
    migrated(data_dir)
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run_doctor(data_dir, "--skip-model", SALON_REDIS_URL=url)
    assert result.returncode == 1
    mark, summary, fix = reported(result.stdout, "redis")
    assert mark == FAIL and summary.startswith(f"{url} does not answer")
    assert fix is not None and fix.startswith("start Redis there, or correct SALON_REDIS_URL")


async def test_a_redis_that_answers_is_ok(tmp_path: Path) -> None:
    if await doctor.get_redis_problem(REDIS_URL) is not None:
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    result = await doctor.check_redis(Settings(data_dir=tmp_path, redis_url=REDIS_URL))
    assert (result.status, result.summary) == ("ok", f"{REDIS_URL} answers")


async def test_missing_fonts_are_a_warning(
    tmp_path: Path, database_url: str, fake_llm: FakeOpenAIServer
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url,
                        llm_provider="openai", llm_model="fake-model",
                        llm_base_url=f"{fake_llm.url}/v1")
    results = [r async for r in doctor.run_checks(settings, font_dir=tmp_path / "no-fonts")]
    shown = click.unstyle("\n".join(format_check(r) for r in results))
    mark, summary, fix = reported(shown, "fonts")
    assert mark == WARN and summary.startswith("PDF export is off: DejaVuSans.ttf")
    assert fix == "apt-get install fonts-dejavu-core"
    assert doctor.is_healthy(results)
    assert doctor_summary(results) == "Everything Salon needs works (1 warning)."
