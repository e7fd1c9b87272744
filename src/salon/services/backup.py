"""Backups of a whole Salon (database and file bodies) that are consistent while it serves, and
restoring one.

A backup is a folder ``salon-backup-<UTC time>`` holding ``manifest.json``, the database
(``salon.db`` made with SQLite's online backup API, or ``salon.pgdump`` from ``pg_dump`` in its
custom format on PostgreSQL) and ``blobs/``, the bodies of the files that database refers to.
It is written under a temporary name and renamed when complete, so a failed backup leaves
nothing that looks like one.

Why not copy ``salon.db``: in WAL mode the newest writes live in ``salon.db-wal`` until a
checkpoint, so a plain copy of the main file silently misses them (and a copy taken during a
write can be torn). The backup API reads one consistent snapshot while writers go on.

File bodies are content-addressed and never change; the database is read first and the bodies
it names are copied after, so a body removed in between (its last chat deleted meanwhile) is
reported as missing rather than silently absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from salon import __version__
from salon.config import Settings
from salon.store.blobs import BlobStore
from salon.store.db import create_engine, get_revision, head_revision, upgrade_database

FORMAT = "salon.backup"
FORMAT_VERSION = 1
SQLITE_FILE = "salon.db"
PG_FILE = "salon.pgdump"
BLOB_QUERY = "SELECT DISTINCT sha256 FROM files"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    database: str  # "sqlite" or "postgresql"
    revision: str | None
    blobs: int
    bytes: int
    missing_blobs: list[str] = field(default_factory=list)


def is_sqlite(settings: Settings) -> bool:
    return settings.resolved_database_url.startswith("sqlite")


def sqlite_path(settings: Settings) -> Path:
    database = sa.make_url(settings.resolved_database_url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return Path(database)


def libpq_url(settings: Settings) -> tuple[str, dict[str, str]]:
    """The database URL for pg_dump / pg_restore, with the password moved to the environment
    (never on a command line that ``ps`` shows)."""
    url = sa.make_url(settings.resolved_database_url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


# --- backup ---------------------------------------------------------------------------------------


async def backup(settings: Settings, into: Path, *, now: datetime,
                 on_step: Callable[[str], None] = lambda _: None) -> BackupReport:
    """Back up the configured database and its file bodies into a new folder under ``into``."""
    into = into.expanduser()
    if into.exists() and not into.is_dir():
        raise BackupError(f"{into} is a file, not a folder to put backups in.")
    into.mkdir(parents=True, exist_ok=True)
    final = into / f"salon-backup-{now.strftime('%Y%m%d-%H%M%S')}"
    if final.exists():
        raise BackupError(f"{final} exists already; wait a second or choose another folder.")
    partial = Path(tempfile.mkdtemp(prefix=".salon-backup-", dir=into))
    try:
        report = await _backup_into(settings, partial, final=final, now=now, on_step=on_step)
        partial.rename(final)
        return report
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


async def _backup_into(settings: Settings, folder: Path, *, final: Path, now: datetime,
                       on_step: Callable[[str], None]) -> BackupReport:
    engine = create_engine(settings.resolved_database_url)
    try:
        revision = await get_revision(engine)
    finally:
        await engine.dispose()
    if revision is None:
        raise BackupError("The database has no Salon tables yet: there is nothing to back up.")
    if is_sqlite(settings):
        on_step("copying the SQLite database (online backup)")
        shas = _backup_sqlite(sqlite_path(settings), folder / SQLITE_FILE)
        database = "sqlite"
    else:
        on_step("dumping the PostgreSQL database (pg_dump)")
        shas = await _backup_postgres(settings, folder / PG_FILE)
        database = "postgresql"
    on_step(f"copying {len(shas)} file bodies")
    copied, size, missing = _copy_blobs(BlobStore(settings.blob_dir), BlobStore(folder / "blobs"),
                                        shas)
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "salon": __version__,
                "created_at": now.isoformat(), "database": database, "revision": revision,
                "blobs": copied, "missing_blobs": missing}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = size + sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return BackupReport(path=final, database=database, revision=revision, blobs=copied,
                        bytes=total, missing_blobs=missing)


def _backup_sqlite(source: Path, target: Path) -> list[str]:
    """One consistent snapshot of ``source`` (writers go on meanwhile), checked for integrity;
    returns the file bodies it refers to."""
    if not source.is_file():
        raise BackupError(f"There is no SQLite database at {source}.")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # all pages in one step: one read transaction, one snapshot
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("The copied database failed SQLite's integrity check.")
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        return [row[0] for row in dst.execute(BLOB_QUERY)]
    finally:
        dst.close()
        src.close()


async def _backup_postgres(settings: Settings, target: Path) -> list[str]:
    """``pg_dump`` (a consistent snapshot), then the bodies the live database names now (any
    named by the dump but removed meanwhile are reported missing by the copy)."""
    if shutil.which("pg_dump") is None:
        raise BackupError("pg_dump is needed to back up PostgreSQL (Debian: apt-get install "
                          "postgresql-client), or back up with your own pg_dump and copy "
                          "SALON_DATA_DIR/blobs.")
    url, env = libpq_url(settings)
    _run_tool(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
               f"--file={target}", f"--dbname={url}"], env=env, what="pg_dump")
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as conn:
            return [str(row[0]) for row in await conn.execute(sa.text(BLOB_QUERY))]
    finally:
        await engine.dispose()


def _copy_blobs(source: BlobStore, target: BlobStore,
                shas: list[str]) -> tuple[int, int, list[str]]:
    copied, size, missing = 0, 0, []
    for sha in sorted(set(shas)):
        path = source.path_for(sha)
        if not path.is_file():
            missing.append(sha)
            continue
        destination = target.path_for(sha)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        copied += 1
        size += destination.stat().st_size
    return copied, size, missing


def _run_tool(command: list[str], *, env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{what} failed: {reason}")


# --- restore --------------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, object]:
    path = source.expanduser() / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        raise BackupError(f"{source} is not a Salon backup (no readable manifest.json).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is not a Salon backup (manifest.json is another format).")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(f"{source} is a version {manifest.get('version')} backup; this Salon "
                          f"reads version {FORMAT_VERSION}.")
    revision = str(manifest.get("revision"))
    if revision > head_revision():
        raise BackupError(f"{source} comes from a newer Salon (database revision {revision}); "
                          "upgrade Salon before restoring it.")
    return manifest


async def restore(settings: Settings, source: Path, *, force: bool,
                  on_step: Callable[[str], None] = lambda _: None) -> dict[str, object]:
    """Put a backup in place of the configured database and add its file bodies. Salon must
    not be running. An existing database is replaced only with ``force``; on SQLite its files
    are kept beside it as ``salon.db.before-restore-<time>``. Returns the manifest."""
    source = source.expanduser()
    manifest = read_manifest(source)
    on_step("checking the backup's file bodies")
    bodies = _checked_blobs(source / "blobs")  # nothing is touched unless all of it is sound
    if manifest.get("database") != ("sqlite" if is_sqlite(settings) else "postgresql"):
        raise BackupError(f"{source} is a {manifest.get('database')} backup, but Salon is "
                          "configured for another database; set SALON_DATABASE_URL to match.")
    if is_sqlite(settings):
        on_step("restoring the SQLite database")
        _restore_sqlite(source / SQLITE_FILE, sqlite_path(settings), force=force,
                        stamp=str(manifest.get("created_at", "")))
    else:
        on_step("restoring the PostgreSQL database (pg_restore)")
        await _restore_postgres(settings, source / PG_FILE, force=force)
    on_step(f"restoring {len(bodies)} file bodies")
    _restore_blobs(bodies, BlobStore(settings.blob_dir))
    on_step("bringing the database to this Salon's revision")
    engine = create_engine(settings.resolved_database_url, statement_timeout=None)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()
    return manifest


def _restore_sqlite(backup_file: Path, target: Path, *, force: bool, stamp: str) -> None:
    if not backup_file.is_file():
        raise BackupError(f"The backup has no {SQLITE_FILE}.")
    if target.exists():
        if not force:
            raise BackupError(f"{target} exists already: pass --force to replace it (it is "
                              "kept beside it as salon.db.before-restore-...).")
        suffix = ".before-restore-" + "".join(c for c in stamp if c.isalnum())[:15]
        for name in (target.name, f"{target.name}-wal", f"{target.name}-shm"):
            old = target.with_name(name)
            if old.exists():
                old.rename(target.with_name(name + suffix))
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        dst.close()
        src.close()


async def _restore_postgres(settings: Settings, dump: Path, *, force: bool) -> None:
    if not dump.is_file():
        raise BackupError(f"The backup has no {PG_FILE}.")
    if shutil.which("pg_restore") is None:
        raise BackupError("pg_restore is needed (Debian: apt-get install postgresql-client).")
    engine = create_engine(settings.resolved_database_url)
    try:
        has_data = await get_revision(engine) is not None
    finally:
        await engine.dispose()
    if has_data and not force:
        raise BackupError("The PostgreSQL database holds a Salon already: pass --force to "
                          "replace it.")
    url, env = libpq_url(settings)
    _run_tool(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
               "--single-transaction", f"--dbname={url}", str(dump)], env=env, what="pg_restore")


def _checked_blobs(source: Path) -> list[Path]:
    """The backup's file bodies, each checked against its name (its SHA-256): a damaged backup
    is refused before anything is restored."""
    if not source.is_dir():
        return []
    bodies = [p for p in source.rglob("*") if p.is_file() and BlobStore.is_name(p.name)]
    damaged = [p.name for p in bodies if _sha256(p) != p.name]
    if damaged:
        raise BackupError(f"{len(damaged)} file bodies in the backup do not match their "
                          f"checksums (e.g. {damaged[0]}); the backup is damaged.")
    return bodies


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _restore_blobs(bodies: list[Path], target: BlobStore) -> None:
    """Add the (checked) bodies the store lacks (written whole, then renamed into place)."""
    for path in bodies:
        if not target.exists(path.name):
            target.put(path.read_bytes())
