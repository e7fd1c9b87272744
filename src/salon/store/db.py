"""Engine creation and migrations.

SQLite runs in WAL mode with foreign keys on and ``BEGIN IMMEDIATE`` for write transactions, so
concurrent writers queue instead of failing; PostgreSQL needs nothing special.

Nothing waits on the database for long: connecting gives up after ``connect_timeout`` seconds,
a statement after ``statement_timeout`` (PostgreSQL cancels it; the client also stops waiting
for a connection that went silent), a SQLite writer waits that long for the write lock. A
database that cannot be reached, or stops answering, raises ``DatabaseUnavailable`` (the web
layer answers 503), and the pool drops the connection, so the next request connects afresh:
Salon recovers without a restart once the database is back.
"""

from __future__ import annotations

import asyncio
import errno
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialects
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_STATEMENT_TIMEOUT = 10.0
# SQLSTATEs that mean "not now" rather than "wrong": connection failures (class 08), the
# server shutting down or starting (57P0x), too many connections, a statement or lock timeout,
# a deadlock or serialization failure. Trying again later can succeed.
UNAVAILABLE_SQLSTATES = frozenset({"53300", "57014", "57P01", "57P02", "57P03", "55P03",
                                   "40P01", "40001"})
STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class DatabaseUnavailable(ConnectionError):
    """The database could not be reached, or stopped answering, within the timeouts."""


def create_engine(
    url: str, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
) -> AsyncEngine:
    """``statement_timeout`` None: statements may run as long as they need (migrations)."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": statement_timeout or 30.0})
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {"timeout": connect_timeout}
    if statement_timeout is not None:
        # The server cancels a slow statement; the client gives up a second later on a
        # connection that went silent (then no cancel can reach the server).
        connect_args["command_timeout"] = statement_timeout + 1
        connect_args["server_settings"] = {
            "statement_timeout": str(int(statement_timeout * 1000))}
    engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                                 pool_timeout=connect_timeout, connect_args=connect_args)
    sa.event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    sa.event.listen(engine.sync_engine, "handle_error", _unavailable_on_silence)
    if engine.dialect.driver == "asyncpg":
        engine.dialect.do_ping = _asyncpg_ping(  # type: ignore[method-assign,assignment]
            connect_timeout)
    return engine


def _asyncpg_ping(timeout: float) -> Callable[[Any], bool]:
    """The pool's check of a connection before lending it: one that does not answer within
    ``timeout`` (a stalled network) or fails is replaced, as a closed one is (the default
    check waited for the statement timeout, then raised)."""
    import asyncpg

    def do_ping(dbapi_connection: Any) -> bool:
        try:
            await_(dbapi_connection.driver_connection.fetchval("SELECT 1", timeout=timeout))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        return True

    return do_ping


def _connect_or_unavailable(dialect: sa.Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as exc:
        if isinstance(exc, OSError) or _is_transient(exc):  # refused, timed out, starting
            raise DatabaseUnavailable(f"cannot connect to the database: {_reason(exc)}") from exc
        raise


def _unavailable_on_silence(context: sa.engine.ExceptionContext) -> BaseException | None:
    """A connection that timed out or broke: dropped from the pool, and DatabaseUnavailable."""
    exc = context.original_exception
    if isinstance(exc, OSError) and not isinstance(exc, DatabaseUnavailable):
        context.is_disconnect = True
        return DatabaseUnavailable(f"the database stopped answering: {_reason(exc)}")
    return None


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc``, raised by an engine or a row reader, means the database is away or
    too busy rather than that the request was wrong: trying again later may work (the web
    layer answers 503)."""
    if isinstance(exc, DatabaseUnavailable | sa.exc.TimeoutError):  # TimeoutError: the pool
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or _is_transient(exc.orig)
    return _is_transient(exc)


def _is_transient(exc: BaseException | None) -> bool:
    """A driver's error that trying again later can clear (see UNAVAILABLE_SQLSTATES), or
    SQLite's "database is locked" after the busy timeout."""
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(code, str):
        return code.startswith("08") or code in UNAVAILABLE_SQLSTATES
    return isinstance(exc, sqlite3.OperationalError) and getattr(
        exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")


def is_storage_full(exc: BaseException) -> bool:
    """Whether ``exc`` says there is no room to write: a file write failing with ENOSPC, EDQUOT
    or EFBIG (the process's file size limit), or SQLite's "database or disk is full"."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, OSError):
        return exc.errno in STORAGE_FULL_ERRNOS
    return isinstance(exc, sqlite3.Error) and getattr(
        exc, "sqlite_errorname", "") == "SQLITE_FULL"


def is_unstorable_text(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL refusing text it cannot hold (a NUL: SQLSTATE 22021), which
    only a request can have carried (bodies are checked before; ids in URLs are not)."""
    if isinstance(exc, sa.exc.DBAPIError):  # through SQLAlchemy, else asyncpg's own (rows.py)
        return getattr(exc.orig, "sqlstate", None) == "22021"
    return getattr(exc, "sqlstate", None) == "22021"


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _prepare_sqlite_connection(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide where transactions start.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite's lower() folds ASCII only; searches use this instead (PostgreSQL folds all).
    dbapi_conn.create_function("salon_lower", 1, _lower, deterministic=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sa.event.listen(engine.sync_engine, "connect", _prepare_sqlite_connection)

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the lock up front (no deadlocked upgrades); readers never block in WAL.
        immediate = conn.get_execution_options().get("salon_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class RowReader(Protocol):
    """A lean way to run one single-row SELECT on the hot path, outside SQLAlchemy's
    connection and transaction handling (the SQL is compiled once for ``dialect``)."""

    dialect: sa.Dialect

    async def fetch_one(self, sql: str, params: Sequence[Any]) -> Sequence[Any] | None: ...

    async def close(self) -> None: ...


class SqliteReader:
    """One raw ``sqlite3`` connection used from the event loop's thread: in WAL mode a
    reader never waits for writers, and a primary-key read takes microseconds, less than a
    trip to aiosqlite's thread and back."""

    dialect: sa.Dialect = sqlite_dialects.pysqlite.dialect()

    def __init__(self, path: str, *, timeout: float = DEFAULT_STATEMENT_TIMEOUT) -> None:
        self._path = path
        self._timeout = timeout
        self._conn: sqlite3.Connection | None = None

    async def fetch_one(self, sql: str, params: Sequence[Any]) -> Sequence[Any] | None:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, timeout=self._timeout,
                                         isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA query_only=ON")
        try:
            row: tuple[Any, ...] | None = self._conn.execute(sql, tuple(params)).fetchone()
        except sqlite3.Error:
            await self.close()  # a fresh connection next time (the file may be replaced)
            raise
        return row

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class AsyncpgReader:
    """A small asyncpg pool of its own: no pool ping and no BEGIN/ROLLBACK around a read,
    statements prepared once per connection. JSON decodes as through SQLAlchemy. Connections
    are made when needed (none kept open while the database is away) with the engine's
    timeouts; a database away raises ``DatabaseUnavailable``."""

    def __init__(self, dsn: str, dialect: sa.Dialect, *, size: int = 10,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT) -> None:
        self.dialect = dialect
        self._dsn = dsn
        self._size = size
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=0, max_size=self._size, init=_json_codecs,
                        timeout=self._connect_timeout, command_timeout=self._statement_timeout,
                        server_settings={
                            "statement_timeout": str(int(self._statement_timeout * 1000))})
        return self._pool

    async def fetch_one(self, sql: str, params: Sequence[Any]) -> Sequence[Any] | None:
        try:
            pool = await self._get_pool()
            async with pool.acquire(timeout=self._connect_timeout) as conn:
                row = await conn.fetchrow(sql, *params)
        except Exception as exc:
            if isinstance(exc, OSError) or _is_transient(exc):
                raise DatabaseUnavailable(f"the database did not answer: {_reason(exc)}") \
                    from exc
            raise
        return None if row is None else tuple(row)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _json_codecs(conn: Any) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads,
                                  schema="pg_catalog")


def create_row_reader(
    engine: AsyncEngine, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
) -> RowReader | None:
    """The hot-path reader for ``engine``'s database (give it the engine's timeouts): a raw
    connection to a SQLite file, or an asyncpg pool. None for anything else (in-memory
    SQLite: a second connection would see another database), where reads go through the
    engine."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return None
        return SqliteReader(url.database, timeout=statement_timeout)
    if engine.dialect.driver == "asyncpg":
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return AsyncpgReader(dsn, engine.dialect, connect_timeout=connect_timeout,
                             statement_timeout=statement_timeout)
    return None


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with engine.execution_options(salon_write=True).begin() as conn:
        yield conn


class MigrationError(Exception):
    """Alembic could not bring the database to the newest revision: most often the database
    is at a revision this version of Salon does not know (a newer Salon migrated it)."""


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest migration's revision, read from the file names (``0005_conversation_imports
    .py`` is revision "0005") without loading alembic; tests/store/test_migrations.py checks it
    against alembic's own reading of the files."""
    names = (path.name for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    return max(name.split("_", 1)[0] for name in names)


async def get_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None when it was never migrated."""

    def _read(sync_conn: sa.Connection) -> str | None:
        if not sa.inspect(sync_conn).has_table("alembic_version"):
            return None
        revision = sync_conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        return revision.scalar()

    async with engine.connect() as conn:
        return await conn.run_sync(_read)


async def upgrade_database(engine: AsyncEngine) -> None:
    """Apply every pending migration (idempotent; safe at each start). A database already at
    ``head_revision()`` is only read: alembic, a third of a second and tens of megabytes to
    load, is imported only when there is something to migrate. Raises ``MigrationError`` when
    alembic cannot migrate it."""
    if await get_revision(engine) != head_revision():
        await _migrate(engine)
    if engine.dialect.name == "sqlite":
        # Fresh planner statistics (bounded work), so the dashboard's indexes get used.
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            await conn.exec_driver_sql("PRAGMA optimize=0x10002")


async def _migrate(engine: AsyncEngine) -> None:
    """A migration may take long (an index on a big table): on PostgreSQL it runs on a
    connection of its own without the statement timeout."""
    if engine.dialect.name != "postgresql":
        async with transaction(engine) as conn:
            await conn.run_sync(_upgrade)
        return
    unlimited = create_engine(engine.url.render_as_string(hide_password=False),
                              statement_timeout=None)
    try:
        async with transaction(unlimited) as conn:
            await conn.run_sync(_upgrade)
    finally:
        await unlimited.dispose()


def _upgrade(sync_conn: sa.Connection) -> None:
    from alembic import command
    from alembic.util.exc import CommandError

    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    try:
        command.upgrade(cfg, "head")
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc


async def execute_autocommit(url: str, statement: str) -> None:
    """Run one statement outside a transaction on a short-lived engine (``CREATE DATABASE``,
    ``DROP DATABASE``, ``TRUNCATE`` by test and benchmark set-up)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
