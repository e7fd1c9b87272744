"""Third-party browser code Salon serves itself (pages never load anything from other sites).

``GET /static/vendor/plotly.min.js``: the plotly.js bundle that the installed ``plotly`` Python
package ships (``plotly/package_data/plotly.min.js``), for interactive charts. Its ETag is the
package version plus the file's size, so a browser revalidates cheaply (304) and sees a new
bundle as soon as the package is upgraded. With ``?v=<that version>`` in the URL the response
may be cached for a year (``immutable``); any other ``v`` is served but not cached long.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)

PLOTLY_PATH = "/static/vendor/plotly.min.js"
LONG_CACHE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"
JS_MEDIA_TYPE = "text/javascript; charset=utf-8"


@dataclass(frozen=True)
class VendorFile:
    path: Path
    version: str
    etag: str


@cache
def plotly_bundle() -> VendorFile:
    """The installed plotly.js bundle (looked up once; the package does not change while the
    server runs). Found through the package's metadata: importing the Python package would
    load some 90 modules that the server never uses."""
    plotly = metadata.distribution("plotly")
    path = Path(str(plotly.locate_file("plotly/package_data/plotly.min.js")))
    version = plotly.version
    return VendorFile(path=path, version=version,
                      etag=f'"plotly-{version}-{path.stat().st_size}"')


def plotly_url() -> str:
    """The versioned URL of the bundle, cacheable for a year."""
    return f"{PLOTLY_PATH}?v={plotly_bundle().version}"


@router.get(PLOTLY_PATH)
async def plotly_js(request: Request, v: str | None = None) -> Response:
    """The plotly.js bundle as JavaScript; 304 when the browser already has this version."""
    bundle = plotly_bundle()
    cache_control = LONG_CACHE if v == bundle.version else REVALIDATE
    headers = {"ETag": bundle.etag, "Cache-Control": cache_control}
    if bundle.etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return FileResponse(bundle.path, media_type=JS_MEDIA_TYPE, headers=headers)


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare equal, as for GET)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
