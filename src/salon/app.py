"""``create_app(settings)``: the ASGI application. Nothing happens at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from salon import __version__
from salon.config import Settings
from salon.llm import create_provider
from salon.services import health
from salon.services.answers import recover_interrupted_answers
from salon.services.context import AppContext, password_hasher
from salon.services.live_redis import RedisLiveHub
from salon.services.live_redis_limits import RedisStreamLimits
from salon.services.ratelimit import RedisRateLimiter
from salon.services.redis_client import make_redis_client
from salon.services.shares import enforce_public_permission
from salon.store import scratch
from salon.store.blobs import BlobStore
from salon.store.db import create_engine, upgrade_database
from salon.web import access_log
from salon.web.cors import add_cors
from salon.web.docs import install_docs
from salon.web.errors import ErrorResponseMiddleware, install_error_handlers
from salon.web.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from salon.web.share_fast_path import ShareFastPath
from salon.web.shutdown import notify_on_stop_signals

STATIC_DIR = Path(__file__).parent / "web" / "static"


def create_app(
    settings: Settings, *, context: AppContext | None = None, freeze_startup_objects: bool = False
) -> FastAPI:
    """Build the app. The database is migrated and the model provider made at startup.
    ``freeze_startup_objects`` is for a server process that runs one app for its whole life
    (``salon serve``), not for tests that start many."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = context or await build_context(settings)
        app.state.ctx = ctx
        access_log.install()
        if freeze_startup_objects:
            # Everything built at start-up lives as long as the process: the collector stops
            # scanning it, so collections under load stay short (they were latency spikes).
            # ``salon serve`` pauses the collector while the app loads; it runs again from
            # here. Nothing is collected first: start-up leaves under a thousand garbage
            # objects, and after the pause even a young collection would scan all it made.
            gc.freeze()
            gc.enable()
        await ctx.live.start()
        # On SIGTERM this worker's live viewers are sent to reconnect (to a worker that stays)
        # at once, while answers being written get SALON_SHUTDOWN_GRACE_SECONDS to finish.
        restore_signals = notify_on_stop_signals(lambda: begin_stopping(ctx))
        flusher = asyncio.create_task(ctx.view_batch.run())
        app.state.telegram = await start_telegram(ctx)
        try:
            yield
        finally:
            restore_signals()
            if app.state.telegram is not None:
                await app.state.telegram.stop()
            await ctx.live.close()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await ctx.view_batch.drain()
            if context is None:
                await close_context(ctx)

    app = FastAPI(title="Salon", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    install_docs(app)
    _include_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       anonymous_max_bytes=settings.max_anonymous_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)  # outside: refusals carry the headers too
    app.add_middleware(ShareFastPath)  # anonymous views of rendered snapshots, before the rest
    # Every failure left becomes a complete 503 or 500 on a connection that stays usable.
    app.add_middleware(ErrorResponseMiddleware)
    if settings.cors_origin_list:  # pages on other origins (their cookie writes stay refused)
        add_cors(app, settings.cors_origin_list)
    # Outermost: the client address (rate limits) comes from X-Forwarded-For only when the
    # connection is from a trusted proxy, whatever server runs the app.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def _include_routers(app: FastAPI) -> None:
    from salon.web import vendor
    from salon.web.api import (
        auths,
        chat,
        chat_archive,
        chat_imports,
        chats,
        community,
        files,
        share_qr,
        shares,
        telegram,
    )
    from salon.web.pages import routes as pages

    for router in (auths.router, shares.khoj_router, chat.router, share_qr.router,
                   community.router,
                   shares.router,  # before chats: "/api/v1/chats/shared" is not a chat id
                   chat_archive.router,  # before chats: "all" is not a chat id
                   chat_imports.router, chats.router, files.router, telegram.router):
        add_routes(app, router)
    for router in pages.ROUTERS:
        add_routes(app, router, in_schema=False)
    add_routes(app, vendor.router)

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> Any:
        """Ready when the database (and Redis, when configured) answers and the data folder
        has room to write; the model's state is reported beside it (``degraded`` after the
        embedded model failed)."""
        ctx = app.state.ctx
        problem = await health.find_problem(ctx)
        if problem is not None:
            return JSONResponse({"status": "unavailable", "detail": problem.detail,
                                 "code": problem.code}, status_code=503)
        # The model is reported, never a reason for 503: chats fail clearly, the rest works.
        model = ctx.provider.health()
        return {"status": "ok", "version": __version__,
                "model": {"name": ctx.provider.name, "status": model.status,
                          "code": model.code or None, "detail": model.detail or None}}


def add_routes(app: FastAPI, router: APIRouter, *, in_schema: bool = True) -> None:
    """Put ``router``'s routes into the app as they are, in order (``in_schema=False`` leaves
    them out of the API document). ``app.include_router`` would keep the router and build each
    of its routes again for the app (every parameter's and response's model, on the first
    request that walks past them: about a tenth of the start). A router whose routes are taken
    as they are must declare everything on its routes (prefix and tags do that): one with
    dependencies, start-up or shut-down handlers or another default response class is
    refused. Routes added this way do not see ``app.dependency_overrides`` (Salon's tests
    build their own settings instead)."""
    if router.dependencies or router.on_startup or router.on_shutdown or not isinstance(
            router.default_response_class, DefaultPlaceholder):
        raise ValueError("add_routes takes routers that declare everything on their routes")
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise ValueError(f"add_routes takes API routes only, not {route!r}")
        if not in_schema:
            route.include_in_schema = False
        app.router.routes.append(route)


# Answers still being written end this long before the grace time is over, so that they are
# stored and their responses complete before the server cuts what is left.
ANSWER_STOP_MARGIN_SECONDS = 0.5


def begin_stopping(ctx: AppContext) -> None:
    """The server was told to stop: live viewers go elsewhere now; answers being written have
    SALON_SHUTDOWN_GRACE_SECONDS (less a margin) to finish, then end as interrupted."""
    ctx.live.stop_watchers()
    grace = max(0.0, ctx.settings.shutdown_grace_seconds - ANSWER_STOP_MARGIN_SECONDS)
    asyncio.get_running_loop().call_later(grace, ctx.stopping.set)


async def start_telegram(ctx: AppContext) -> Any:
    """The Telegram bot's runner, started, when SALON_TELEGRAM_BOT_TOKEN is set (else None;
    its modules are not even loaded)."""
    if not ctx.settings.telegram_bot_token:
        return None
    from salon.telegram.runner import TelegramRunner

    runner = TelegramRunner(ctx)
    await runner.start()
    return runner


async def build_context(settings: Settings) -> AppContext:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    scratch.remove_abandoned(settings.data_dir)  # left behind by a process that was killed
    engine = create_engine(settings.resolved_database_url,
                           connect_timeout=settings.db_connect_timeout,
                           statement_timeout=settings.db_statement_timeout)
    await upgrade_database(engine)
    ctx = AppContext(
        settings=settings,
        engine=engine,
        blobs=BlobStore(settings.blob_dir),
        provider=create_provider(settings),
        hasher=password_hasher(settings),
    )
    if settings.redis_url:
        await use_redis(ctx, settings.redis_url)
    await enforce_public_permission(ctx)
    await recover_interrupted_answers(ctx)  # answers a killed process was writing
    await ctx.view_batch.open_journal(settings.data_dir / "views")  # and views a stop kept
    return ctx


async def use_redis(ctx: AppContext, url: str) -> None:
    """Share rate limits, live updates and stream limits with every worker through Redis."""
    # A Redis that is down fails at once, one that does not answer after SALON_REDIS_TIMEOUT.
    timeout = ctx.settings.redis_timeout
    client = make_redis_client(url, timeout=timeout)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        raise RuntimeError(f"SALON_REDIS_URL does not answer ({type(exc).__name__})") from exc
    ctx.redis = client
    ctx.limiter = RedisRateLimiter(client)
    ctx.live = RedisLiveHub(client, listener=make_redis_client(url, timeout=timeout),
                            timeout=timeout)
    ctx.live_streams = RedisStreamLimits(client)


async def close_context(ctx: AppContext) -> None:
    await ctx.view_batch.flush()
    await ctx.provider.aclose()
    ctx.passwords.close()
    if ctx.row_reader is not None:
        await ctx.row_reader.close()
    if ctx.redis is not None:
        await ctx.redis.aclose()
    await ctx.engine.dispose()
