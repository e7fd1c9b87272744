"""Cross-origin use of the API (``SALON_CORS_ORIGINS``): scripts of the listed origins (Open
WebUI scripts, other browser clients) may call it with credentials; "*" alone lets any origin
read answers without credentials. Cookie-authenticated writes from another origin are still
refused by the CSRF check (``deps.check_csrf``): such clients send ``Authorization: Bearer``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Send

EXPOSED = ["ETag", "X-Total-Count", "X-Share-Grant", "Retry-After"]


class ListedOriginsCORS(CORSMiddleware):
    """Starlette's CORS, except that an answer to an origin it does not allow carries no CORS
    header at all (Starlette adds ``Access-Control-Allow-Credentials`` to every answer)."""

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        async def strip(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = MutableHeaders(scope=msg)
                if "access-control-allow-origin" not in headers:
                    del headers["access-control-allow-credentials"]
                    del headers["access-control-expose-headers"]
            await send(msg)

        await super().send(message, strip, request_headers)


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """CORS for ``origins`` (from ``Settings.cors_origin_list``; never empty here)."""
    any_origin = origins == ["*"]
    app.add_middleware(ListedOriginsCORS, allow_origins=origins,
                       allow_credentials=not any_origin, allow_methods=["*"],
                       allow_headers=["*"], expose_headers=EXPOSED)
