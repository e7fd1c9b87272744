"""``salon serve``: migrate once, check the model and Redis settings, then run the app under
uvicorn.

Nothing here loads the command-line library: when ``salon serve``'s options are plain
(``parse_plain_options``), ``salon.__main__`` runs ``serve`` without it, which saves a tenth of
the start. Anything else (``--help``, a mistake, an unusual spelling) goes through the full
command line, which handles and explains it as it always did.
"""

from __future__ import annotations

import gc
import re
import sys
from dataclasses import dataclass
from typing import Any

from salon import __version__
from salon.cli_common import EXIT_USAGE, CliError, exit_with, fail, load_settings, migrate, run
from salon.config import Settings
from salon.llm import create_provider
from salon.services import doctor
from salon.services.doctor import safe_url

UVICORN_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
# Idle keep-alive connections stay open longer than reverse proxies keep theirs (nginx: 60 s)
# and than HTTP clients reuse them (httpx: 5 s, uvicorn's own default too): a client never
# sends a request on a connection the server is closing at that moment (nginx answered 502).
KEEP_ALIVE_SECONDS = 75
# serve's numeric options and their ranges, as the command line declares them.
PORT_RANGE = (1, 65535)
WORKERS_RANGE = (1, 64)


@dataclass(frozen=True)
class ServeOptions:
    host: str | None = None
    port: int | None = None
    workers: int = 1


_DIGITS = re.compile(r"[0-9]{1,6}")


def parse_plain_options(args: list[str]) -> ServeOptions | None:
    """serve's options (the arguments after ``serve``) when every one is plain: ``--host``,
    ``--port`` and ``--workers``, each at most once, with its value as the next argument or
    after ``=``, numbers in digits and within range, a host that is not empty and does not
    start with ``-``. Returns None for anything else, for the command line to handle: what it
    accepts that is not plain, it reads the same way; the rest it refuses with its message."""
    values: dict[str, str] = {}
    rest = list(args)
    while rest:
        name, has_value, value = rest.pop(0).partition("=")
        if not has_value:
            if not rest:
                return None
            value = rest.pop(0)
        if name not in ("--host", "--port", "--workers") or name in values:
            return None
        if not value or value.startswith("-"):
            return None
        values[name] = value
    try:
        port = None if "--port" not in values else _number(values["--port"], PORT_RANGE)
        workers = _number(values.get("--workers", "1"), WORKERS_RANGE)
    except ValueError:
        return None
    return ServeOptions(host=values.get("--host"), port=port, workers=workers)


def _number(value: str, limits: tuple[int, int]) -> int:
    """``value`` as an int; ValueError unless it is plain digits within ``limits``."""
    if not _DIGITS.fullmatch(value) or not limits[0] <= int(value) <= limits[1]:
        raise ValueError(value)
    return int(value)


def serve_plain(options: ServeOptions) -> None:
    """``salon serve`` with plain options, reporting failures as the command line does."""
    try:
        serve(host=options.host, port=options.port, workers=options.workers)
    except CliError as exc:
        exit_with(exc)
    except KeyboardInterrupt:  # interrupted before uvicorn took over the signals
        print("\nAborted!", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def serve(*, host: str | None, port: int | None, workers: int) -> None:
    """Serve Salon over HTTP (``host`` and ``port`` default to SALON_HOST and SALON_PORT).
    Pending migrations are applied first. Raises ``CliError`` for what the user can fix."""
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = load_settings(**overrides)
    log_level = settings.log_level.strip().lower()
    if log_level not in UVICORN_LOG_LEVELS:
        fail(f"SALON_LOG_LEVEL must be one of {', '.join(UVICORN_LOG_LEVELS)}.",
             exit_code=EXIT_USAGE)
    is_sqlite = settings.resolved_database_url.startswith("sqlite")
    if workers > 1 and is_sqlite:
        fail("--workers above 1 needs PostgreSQL (set SALON_DATABASE_URL): "
             "SQLite serves a single worker process.", exit_code=EXIT_USAGE)
    if workers > 1 and not settings.redis_url:
        fail("--workers above 1 needs Redis (set SALON_REDIS_URL): rate limits and live "
             "updates are shared through it.", exit_code=EXIT_USAGE)
    revision, model = run(_preflight(settings), settings=settings)
    database = safe_url(settings.resolved_database_url)
    print(f"Salon {__version__} serving on {display_url(settings.host, settings.port)} "
          f"(database {database} at revision {revision}; model: {model}; "
          f"{workers} worker{'s' if workers > 1 else ''})", flush=True)
    if workers == 1:
        # Loading the web stack and building the app make objects that live as long as the
        # server and almost no garbage: collections would only rescan them. The app freezes
        # them and resumes the collector once started (``freeze_startup_objects``).
        gc.disable()
    import uvicorn  # the web stack loads only for this command

    from salon.app import create_app

    target: Any = ("salon.serving:app_from_env" if workers > 1
                   else create_app(settings, freeze_startup_objects=True))
    uvicorn.run(target, host=settings.host, port=settings.port, workers=workers,
                factory=workers > 1, log_level=log_level, server_header=False,
                proxy_headers=False,  # the app applies SALON_TRUSTED_PROXIES itself
                ws="none",  # no WebSocket routes (live updates are server-sent events)
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
                timeout_graceful_shutdown=settings.shutdown_grace_seconds)


def app_from_env() -> Any:
    """The ASGI app built from the environment: the factory each ``--workers`` process calls
    (``uvicorn salon.serving:app_from_env --factory``)."""
    from salon.app import create_app

    return create_app(load_settings(), freeze_startup_objects=True)


async def _preflight(settings: Settings) -> tuple[str | None, str]:
    """Migrate once, before any worker starts (workers would otherwise race to migrate an
    empty database), and check that the model settings make a provider."""
    revision = await migrate(settings)
    try:
        provider = create_provider(settings)
    except ValueError as exc:
        fail(str(exc), exit_code=EXIT_USAGE)
    await provider.aclose()
    if settings.redis_url:
        await _check_redis(settings.redis_url)
    return revision, provider.name


async def _check_redis(url: str) -> None:
    """Refuse to serve with a Redis that does not answer (it carries rate limits)."""
    problem = await doctor.get_redis_problem(url)
    if problem is not None:
        fail(f"SALON_REDIS_URL does not answer: {problem}")


def display_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"
