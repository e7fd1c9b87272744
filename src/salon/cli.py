"""The ``salon`` command: ``serve``, ``db upgrade``, ``user ...``, ``import``, ``export``.

A thin adapter: read settings, call a service or a store function, print the result. Every
failure a user can cause ends with one line on stderr and a non-zero exit code, never a
traceback (``salon.cli_common``). ``salon serve`` with plain options runs without this module
(``salon.serving``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from salon import __version__, serving
from salon.cli_common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    CliError,
    exit_with,
    fail,
    load_settings,
    migrate,
    open_engine,
    run,
)
from salon.config import Settings
from salon.domain import users as user_rules
from salon.domain.errors import NotFound, SalonError
from salon.domain.users import User
from salon.llm.unconfigured import UnconfiguredProvider
from salon.services import archive, auth, doctor, exporting, importing
from salon.services.context import AppContext, password_hasher, utc_now
from salon.services.doctor import safe_url
from salon.store import users as user_repo
from salon.store.blobs import BlobStore
from salon.store.db import transaction, upgrade_database

app = typer.Typer(
    help="Salon: a self-hosted AI chat server whose heart is sharing conversations safely.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold passwords and secrets
)
db_app = typer.Typer(help="Manage the database.", no_args_is_help=True)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")


class Role(StrEnum):
    admin = "admin"
    user = "user"


def main() -> None:
    """Run the command ``sys.argv`` names (``salon`` and ``python -m salon`` come here through
    ``salon.__main__``)."""
    try:
        app()
    except CliError as exc:
        exit_with(exc)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"salon {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Salon reads its settings from SALON_* environment variables (see the README)."""


# --- database -------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration and print the database's revision."""
    settings = load_settings()
    revision = run(migrate(settings), settings=settings)
    typer.echo(f"Database {safe_url(settings.resolved_database_url)} is at revision {revision}.")


# --- users ----------------------------------------------------------------------------------


async def _open_context(settings: Settings) -> AppContext:
    """A context for account work: migrated database, no model (the CLI never asks one)."""
    engine = open_engine(settings)
    try:
        await upgrade_database(engine)
    except BaseException:
        await engine.dispose()
        raise
    return AppContext(settings=settings, engine=engine, blobs=BlobStore(settings.blob_dir),
                      provider=UnconfiguredProvider(), hasher=password_hasher(settings))


async def _create_user(settings: Settings, *, email: str, name: str, password: str,
                       admin: bool) -> User:
    ctx = await _open_context(settings)
    try:
        return await auth.create_user(ctx, email=email, name=name, password=password,
                                      role="admin" if admin else None)
    finally:
        await ctx.engine.dispose()


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="The sign-in email address.")],
    name: Annotated[str, typer.Option(help="The display name.")],
    password: Annotated[
        str | None,
        typer.Option(help="The password (at least 8 characters); asked for when left out."),
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the account an admin.")] = False,
) -> None:
    """Create an account. The first account on a server is always an admin."""
    settings = load_settings()
    _check_email(email)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = run(_create_user(settings, email=email, name=name, password=password, admin=admin),
               settings=settings)
    note = " (the first account is always an admin)" if user.is_admin and not admin else ""
    typer.echo(f"Created {user.role} {user.email} ({user.name}), id {user.id}{note}.")


def _check_email(email: str) -> None:
    """Refuse a malformed email before asking for a password."""
    try:
        user_rules.normalize_email(email)
    except SalonError as exc:
        fail(exc.detail)


async def _list_users(settings: Settings) -> list[User]:
    engine = open_engine(settings)
    try:
        await upgrade_database(engine)
        async with engine.connect() as conn:
            return await user_repo.list_users(conn)
    finally:
        await engine.dispose()


@user_app.command("list")
def user_list() -> None:
    """List every account with its role."""
    settings = load_settings()
    users = run(_list_users(settings), settings=settings)
    if not users:
        typer.echo("No accounts yet. Create one with: salon user create --email ... --name ...")
        return
    from rich.console import Console  # rich loads only for the commands that draw with it
    from rich.table import Table
    from rich.text import Text

    table = Table("Email", "Name", "Role", "Created (UTC)", "ID")
    table.columns[0].no_wrap = True
    table.columns[2].no_wrap = True
    table.columns[4].overflow = "fold"
    for u in users:
        created = u.created_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(Text(u.email), Text(u.name), Text(u.role), Text(created), Text(u.id))
    # Piped output is not folded to 80 columns: whole ids and emails stay greppable.
    width = None if sys.stdout.isatty() else 200
    Console(highlight=False, width=width).print(table)


async def _set_role(settings: Settings, *, email: str, role: Role) -> User:
    """Change a role directly in the store: the CLI is the operator, so no actor is needed,
    but the server never loses its last admin."""
    clean_email = user_rules.normalize_email(email)
    engine = open_engine(settings)
    try:
        await upgrade_database(engine)
        async with transaction(engine) as conn:
            found = await user_repo.get_user_with_hash(conn, clean_email)
            if found is None:
                raise NotFound(f"No account with the email {clean_email}.")
            user = found[0]
            admins = [u for u in await user_repo.list_users(conn) if u.is_admin]
            if role is Role.user and admins == [user]:
                fail(f"{clean_email} is the only admin; make another account admin first.")
            await user_repo.update_user(conn, user.id, now=utc_now(), role=role.value)
            updated = await user_repo.get_user(conn, user.id)
    finally:
        await engine.dispose()
    assert updated is not None
    return updated


@user_app.command("set-role")
def user_set_role(
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    role: Annotated[Role, typer.Argument(help="The new role.")],
) -> None:
    """Make an account an admin, or a regular user."""
    settings = load_settings()
    user = run(_set_role(settings, email=email, role=role), settings=settings)
    typer.echo(f"{user.email} is now {user.role}.")


# --- serve ----------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: SALON_HOST).")] = None,
    port: Annotated[int | None, typer.Option(
        min=serving.PORT_RANGE[0], max=serving.PORT_RANGE[1],
        help="Port (default: SALON_PORT).")] = None,
    workers: Annotated[int, typer.Option(
        min=serving.WORKERS_RANGE[0], max=serving.WORKERS_RANGE[1],
        help="Worker processes.")] = 1,
) -> None:
    """Serve Salon over HTTP. Pending migrations are applied first."""
    serving.serve(host=host, port=port, workers=workers)


# --- export and import ----------------------------------------------------------------------


async def _account(ctx: AppContext, email: str) -> User:
    clean_email = user_rules.normalize_email(email)
    async with ctx.engine.connect() as conn:
        found = await user_repo.get_user_with_hash(conn, clean_email)
    if found is None:
        raise NotFound(f"No account with the email {clean_email}.")
    return found[0]


async def _export(settings: Settings, *, email: str, chat_id: str,
                  fmt: str) -> exporting.ExportFile:
    ctx = await _open_context(settings)
    try:
        user = await _account(ctx, email)
        return await exporting.export_file(ctx, user, chat_id, fmt)
    finally:
        await ctx.engine.dispose()


async def _export_all(settings: Settings, *, email: str, fmt: str, out: BinaryIO) -> int:
    """Write every conversation of the account as a ZIP into ``out``, with a progress bar on
    a terminal; returns the ZIP's size."""
    ctx = await _open_context(settings)
    try:
        user = await _account(ctx, email)
        ids = await archive.chat_ids(ctx, user)
        from rich.console import Console
        from rich.progress import Progress

        with Progress(transient=True, console=Console(stderr=True),
                      disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("Exporting", total=len(ids))
            size = 0
            async for chunk in archive.export_archive(
                    ctx, user, fmt, ids=ids,
                    progress=lambda done, _: bar.update(task, completed=done)):
                out.write(chunk)
                size += len(chunk)
        return size
    finally:
        await ctx.engine.dispose()


@app.command("export")
def export(
    user: Annotated[str, typer.Option("--user", help="The owner's email address.")],
    chat_id: Annotated[str | None, typer.Argument(
        help="The conversation's id (as in /c/{id}); leave out with --all.")] = None,
    all_chats: Annotated[bool, typer.Option(
        "--all", help="Every conversation of the account, as one ZIP.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The file to write (default: named after the title, or "
        "salon-chats-<date>.zip with --all, here).")] = None,
    format: Annotated[str, typer.Option(
        help="json (a Salon chat file, files included), csv, parquet, markdown, html or pdf.")
    ] = "json",
) -> None:
    """Export one conversation, or all of them (--all) as a ZIP."""
    if (chat_id is None) == (not all_chats):
        fail("Name one conversation (CHAT_ID) or use --all.", exit_code=EXIT_USAGE)
    try:
        exporting.check_export_format(format)
    except SalonError as exc:
        fail(exc.detail, exit_code=EXIT_USAGE)
    settings = load_settings()
    if all_chats:
        target = output or Path(archive.archive_name(utc_now()))
        try:
            out = target.open("wb")
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}")
        try:
            with out:
                size = run(_export_all(settings, email=user, fmt=format, out=out),
                           settings=settings)
        except BaseException:
            target.unlink(missing_ok=True)  # no half-written archive left behind
            raise
        typer.echo(f"Wrote {target} ({size:,} bytes).")
        return
    assert chat_id is not None
    exported = run(_export(settings, email=user, chat_id=chat_id, fmt=format),
                   settings=settings)
    target = output or Path(exported.name)
    try:
        target.write_bytes(exported.body)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    typer.echo(f"Wrote {target} ({len(exported.body):,} bytes).")


PROGRESS_FROM_BYTES = 4 * 1024 * 1024


async def _import(settings: Settings, *, email: str, file: BinaryIO,
                  on_read: Callable[[int], None] | None) -> importing.ImportReport:
    ctx = await _open_context(settings)
    try:
        user = await _account(ctx, email)
        return await importing.import_file(ctx, user, file, on_read=on_read)
    finally:
        await ctx.engine.dispose()


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A Salon chat file, an Open WebUI chat export "
                                         "or ChatGPT's conversations.json.")],
    user: Annotated[str, typer.Option("--user", help="The email of the account to import "
                                      "into.")],
) -> None:
    """Import conversations into an account: Salon chat files, Open WebUI chat exports,
    ChatGPT's conversations.json (one conversation or a list). The file is read as a stream,
    so its size does not matter; each conversation is imported on its own; the exit code is 1
    when any of them failed."""
    try:
        source = file.open("rb")
        size = os.fstat(source.fileno()).st_size
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    settings = load_settings()
    with source, _import_progress(size) as on_read:
        report = run(_import(settings, email=user, file=source, on_read=on_read),
                     settings=settings)
    for entry in report.imported:
        typer.echo(f"Imported #{entry['index']}: {entry['title']} ({entry['chat_id']})")
    for entry in report.skipped:
        typer.echo(f"Skipped #{entry['index']}: already imported as {entry['chat_id']}")
    for entry in report.failed:
        typer.echo(f"Failed #{entry['index']}: {entry['reason']}", err=True)
    typer.echo(f"{len(report.imported)} imported, {len(report.skipped)} skipped, "
               f"{len(report.failed)} failed.")
    if report.failed:
        raise typer.Exit(EXIT_FAILURE)


@contextmanager
def _import_progress(size: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr, by bytes read, for a big file when stderr is a terminal."""
    if size < PROGRESS_FROM_BYTES or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("Importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("import", total=size)
        yield lambda done: progress.update(task, completed=done)


# --- doctor ---------------------------------------------------------------------------------

DOCTOR_MARKS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red"),
                "skip": ("-", None)}


@app.command("doctor")
def doctor_(
    skip_model: Annotated[bool, typer.Option(
        "--skip-model", help="Do not load and ask the model (that can take a while).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Check what works: settings, database and migrations, the data folder, Redis, the fonts
    for PDF, and the model (asked one short question, timed). Each problem comes with its fix;
    the exit code is 1 when something Salon needs is broken."""
    show = None if as_json else (lambda result: typer.echo(format_check(result)))
    try:
        settings = load_settings()
    except CliError as exc:
        results = [doctor.settings_failure(exc.message)]
        if show is not None:
            show(results[0])
    else:
        results = asyncio.run(_diagnose(settings, skip_model=skip_model, show=show))
    healthy = doctor.is_healthy(results)
    if as_json:
        typer.echo(json.dumps({"healthy": healthy, "checks": [asdict(r) for r in results]},
                              indent=2, ensure_ascii=False))
    else:
        typer.echo(doctor_summary(results))
    if not healthy:
        raise typer.Exit(EXIT_FAILURE)


async def _diagnose(settings: Settings, *, skip_model: bool,
                    show: Callable[[doctor.CheckResult], None] | None) -> list[doctor.CheckResult]:
    results = []
    async for result in doctor.run_checks(settings, skip_model=skip_model):
        if show is not None:
            show(result)
        results.append(result)
    return results


def format_check(result: doctor.CheckResult) -> str:
    """``✓ name  summary``, then ``    fix: ...`` under a problem."""
    mark, color = DOCTOR_MARKS[result.status]
    line = f"{typer.style(mark, fg=color, bold=True)} {result.name:<9} {result.summary}"
    return line if result.fix is None else f"{line}\n    fix: {result.fix}"


def doctor_summary(results: list[doctor.CheckResult]) -> str:
    broken = [r.name for r in results if r.status == "fail"]
    warnings = sum(r.status == "warn" for r in results)
    if broken:
        return f"Broken: {', '.join(broken)}. Each fix is shown under its line."
    if warnings:
        return f"Everything Salon needs works ({warnings} warning{'s' if warnings > 1 else ''})."
    return "Everything works."


# --- backup and restore ---------------------------------------------------------------------


@app.command("backup")
def backup_(
    folder: Annotated[Path, typer.Argument(help="Where to create the backup folder.")],
) -> None:
    """Back up the database and the files it refers to into FOLDER/salon-backup-<time>,
    consistently while Salon serves (SQLite's online backup; pg_dump on PostgreSQL). Never copy
    a live salon.db by hand: its newest writes are in salon.db-wal."""
    from salon.services import backup

    settings = load_settings()
    try:
        report = run(backup.backup(settings, folder, now=utc_now(), on_step=_say_step),
                     settings=settings)
    except backup.BackupError as exc:
        fail(str(exc))
    size = f"{report.bytes / 1_000_000:.1f} MB"
    typer.echo(f"Backed up the {report.database} database (revision {report.revision}) and "
               f"{report.blobs} files, {size}, into {report.path}")
    if report.missing_blobs:
        typer.echo(f"Warning: {len(report.missing_blobs)} file bodies named by the database were "
                   "not in the data folder (deleted meanwhile, or lost before).", err=True)


@app.command("restore")
def restore_(
    folder: Annotated[Path, typer.Argument(help="A folder made by `salon backup`.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing database (SQLite keeps it beside the new one).",
    )] = False,
) -> None:
    """Restore a backup made by `salon backup` into the configured database and data folder.
    Stop Salon first; start it again afterwards."""
    from salon.services import backup

    settings = load_settings()
    try:
        manifest = run(backup.restore(settings, folder, force=force, on_step=_say_step),
                       settings=settings)
    except backup.BackupError as exc:
        fail(str(exc))
    typer.echo(f"Restored the backup of {manifest.get('created_at')} "
               f"({manifest.get('blobs')} files). Start Salon with `salon serve`.")


def _say_step(step: str) -> None:
    typer.echo(f"… {step}")


# --- telegram -------------------------------------------------------------------------------


@app.command("telegram")
def telegram_() -> None:
    """Run the Telegram bot alone, by long polling (SALON_TELEGRAM_BOT_TOKEN), until stopped.
    ``salon serve`` runs it too when the token is set: use one or the other."""
    settings = load_settings()
    if not settings.telegram_bot_token:
        fail("Set SALON_TELEGRAM_BOT_TOKEN to the token @BotFather gave you.",
             exit_code=EXIT_USAGE)
    if settings.telegram_mode == "webhook":
        fail("In webhook mode Telegram calls `salon serve`; `salon telegram` polls "
             "(SALON_TELEGRAM_MODE=polling).", exit_code=EXIT_USAGE)
    typer.echo("The Telegram bot is running; stop it with Ctrl+C.", err=True)
    with _suppress_interrupt():
        run(_run_telegram(settings), settings=settings)


@contextmanager
def _suppress_interrupt() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        typer.echo("Stopped.", err=True)


async def _run_telegram(settings: Settings) -> None:
    from salon.app import build_context, close_context
    from salon.telegram.runner import TelegramRunner

    ctx = await build_context(settings)
    runner = TelegramRunner(ctx)
    try:
        await runner.start()
        await runner.wait()
    finally:
        await runner.stop()
        await close_context(ctx)
