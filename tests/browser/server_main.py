"""Run Salon for the browser tests: ``python -m tests.browser.server_main --port N``.

Settings come from the environment (``SALON_*``), exactly as a deployment reads them.
"""

from __future__ import annotations

import argparse

import uvicorn

from salon.app import create_app
from salon.config import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Salon server for the browser tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(Settings()), host=args.host, port=args.port, log_level="warning",
                access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
