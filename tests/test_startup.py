"""Start-up loads what serving needs and nothing more: the libraries behind exports, imports,
QR codes, formulas, Markdown, code highlighting, page templates, migrations, Redis and the
embedded model are imported by the first use of their feature, the HTTP client only for the
OpenAI-compatible model or community sharing, rich only by the commands that draw tables and
progress bars, the command-line library only by the other commands (and by ``salon serve``
asked for help or given a mistake), and PostgreSQL's dialect only on PostgreSQL
(``bench/startup.py`` measures the time and memory that saves). Checked in a fresh interpreter
that loads what ``salon serve`` loads and starts the app. The garbage collector is paused while
the command and the app load, and runs again once the app has started. Each route is built
once."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends, FastAPI

from salon.app import add_routes, create_app
from salon.config import Settings
from tests.test_cli import salon_env

LAZY = ("pyarrow", "fpdf", "PIL", "ijson", "plotly", "segno", "latex2mathml", "alembic",
        "redis", "llama_cpp", "httpx", "rich", "typer", "salon.cli", "markdown_it", "pygments",
        "jinja2")

START = """
import asyncio, gc, json, sys
gc.disable()  # as salon serve does while it loads
from salon.__main__ import load_command
load_command(["serve", "--port", "8000"])
import uvicorn
from salon.app import create_app
from salon.config import Settings

app = create_app(Settings(), freeze_startup_objects=True)

async def start_and_stop():
    async with app.router.lifespan_context(app):
        return gc.isenabled()

collecting = asyncio.run(start_and_stop())
print(json.dumps({"loaded": sorted(name for name in sys.argv[1:] if name in sys.modules),
                  "collecting": collecting}))
"""


@pytest.mark.parametrize("provider", ["local", "none"])
def test_serving_leaves_feature_libraries_unloaded(
    tmp_path: Path, database_url: str, provider: str
) -> None:
    """The database is at head (no migration to run) and the embedded model, when chosen, is
    not asked: neither alembic nor llama.cpp may load, nor httpx (no model server to call).
    The started app has the collector running again."""
    env = salon_env(tmp_path / "data", SALON_ENV="test", SALON_DATABASE_URL=database_url,
                    SALON_LLM_PROVIDER=provider)
    lazy = LAZY + (("sqlalchemy.dialects.postgresql",) if database_url.startswith("sqlite")
                   else ())
    result = subprocess.run([sys.executable, "-c", START, *lazy], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"loaded": [], "collecting": True}


def test_commands_run_with_the_collector_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """``salon`` pauses the collector only while the command line loads."""
    import salon.cli
    from salon import __main__ as entry

    seen: list[bool] = []
    monkeypatch.setattr(salon.cli, "main", lambda: seen.append(gc.isenabled()))
    try:
        entry.main()
    finally:
        gc.unfreeze()
    assert seen == [True]


def test_the_app_holds_the_routes_its_routers_built(tmp_path: Path) -> None:
    """Each route is built once, when its module declares it: the app holds the routers' own
    route objects. (Included routers were kept, and FastAPI built every route of theirs again
    for the app, on the first request that walked past it: a tenth of the start.)"""
    from salon.web import vendor
    from salon.web.api import chats, shares
    from salon.web.pages import routes as pages

    app = create_app(Settings(env="test", data_dir=tmp_path))
    held = {id(route) for route in app.routes}
    for router in (shares.router, chats.router, vendor.router, *pages.ROUTERS):
        assert router.routes
        assert all(id(route) in held for route in router.routes)


def test_a_router_that_declares_more_than_its_routes_is_refused() -> None:
    """Dependencies on the router would not reach routes taken as they are."""
    router = APIRouter(dependencies=[Depends(lambda: None)])

    @router.get("/x")
    async def x() -> None: ...

    with pytest.raises(ValueError, match="declare everything on their routes"):
        add_routes(FastAPI(), router)
