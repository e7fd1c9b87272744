"""Start-up loads what serving needs and nothing more: the libraries behind exports, imports,
QR codes, formulas, migrations, Redis and the embedded model are imported by the first use of
their feature (``bench/startup.py`` measures the time and memory that saves). Checked in a
fresh interpreter that imports what ``salon serve`` imports and starts the app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli import salon_env

LAZY = ("pyarrow", "fpdf", "PIL", "ijson", "plotly", "segno", "latex2mathml", "alembic",
        "redis", "llama_cpp")

START = """
import asyncio, json, sys
import salon.cli
from salon.app import create_app
from salon.config import Settings

app = create_app(Settings(), freeze_startup_objects=True)

async def start_and_stop():
    async with app.router.lifespan_context(app):
        pass

asyncio.run(start_and_stop())
print(json.dumps(sorted(name for name in sys.argv[1:] if name in sys.modules)))
"""


def test_serving_leaves_feature_libraries_unloaded(tmp_path: Path, database_url: str) -> None:
    """The database is at head (no migration to run) and the embedded model is chosen but
    not asked: neither alembic nor llama.cpp may load."""
    env = salon_env(tmp_path / "data", SALON_ENV="test", SALON_DATABASE_URL=database_url,
                    SALON_LLM_PROVIDER="local")
    result = subprocess.run([sys.executable, "-c", START, *LAZY], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
