"""What the ``salon`` commands share, without the command-line library (``salon serve`` starts
without loading it): settings from the environment, the one-line failure with its exit code,
running a coroutine with the errors a user can cause turned into that failure, and the
database engine and its migrations.

Every failure a user can cause (bad settings, bad input, an unusable or unreachable database)
ends with one line on stderr and a non-zero exit code, never a traceback: 2 for configuration
and usage problems, 1 for everything else.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa
from pydantic import AliasChoices, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from salon.config import Settings
from salon.domain.errors import SalonError
from salon.services.doctor import describe_error, safe_url
from salon.store.db import MigrationError, create_engine, get_revision, upgrade_database

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to report as one line on stderr, then exit with ``exit_code``."""

    def __init__(self, message: str, *, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def exit_with(error: CliError) -> NoReturn:
    """Report ``error`` as ``Error: ...`` on stderr and exit with its code."""
    print(f"Error: {error.message}", file=sys.stderr, flush=True)
    sys.exit(error.exit_code)


def fail(message: str, *, exit_code: int = EXIT_FAILURE) -> NoReturn:
    raise CliError(message, exit_code=exit_code)


def env_var_name(field: str) -> str:
    """The environment variable that sets ``field`` (the admin variables have their own names)."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return first if isinstance(first, str) else field.upper()
    return "SALON_" + field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with command-line ``overrides`` winning.
    Raises ``CliError`` (exit 2) naming the offending variable when a value is invalid."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise CliError(_describe_settings_errors(exc), exit_code=EXIT_USAGE) from None


def _describe_settings_errors(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = error["loc"]
        if loc:
            name = str(loc[0])
            variable = env_var_name(name) if name in Settings.model_fields else name
            problems.append(f"{variable}: {message}")
        else:
            problems.append(message)
    return "invalid settings: " + "; ".join(problems)


def run(work: Coroutine[Any, Any, T], *, settings: Settings) -> T:
    """Run ``work`` to completion, turning the errors a user can cause into ``CliError``."""
    try:
        return asyncio.run(work)
    except SalonError as exc:
        raise CliError(exc.detail) from None
    except (sa.exc.SQLAlchemyError, MigrationError, OSError) as exc:
        where = safe_url(settings.resolved_database_url)
        raise CliError(f"cannot use the database at {where}: {describe_error(exc)}") from None


def open_engine(settings: Settings) -> AsyncEngine:
    """The engine for ``settings``; a malformed URL or unknown driver is a usage error."""
    try:
        return create_engine(settings.resolved_database_url,
                             connect_timeout=settings.db_connect_timeout,
                             statement_timeout=settings.db_statement_timeout)
    except (sa.exc.ArgumentError, sa.exc.InvalidRequestError, ImportError) as exc:
        fail(f"SALON_DATABASE_URL is not a usable database URL ({describe_error(exc)}); "
             "Salon supports sqlite:///path and postgresql://user:password@host/db.",
             exit_code=EXIT_USAGE)


async def migrate(settings: Settings) -> str | None:
    """Apply pending migrations; returns the revision the database is now at."""
    engine = open_engine(settings)
    try:
        await upgrade_database(engine)
        return await get_revision(engine)
    finally:
        await engine.dispose()
