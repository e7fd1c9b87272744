"""The plotly.js bundle Salon serves itself: the installed package's file, as JavaScript, with
an ETag that answers 304 and a year-long cache only for the versioned URL."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import httpx
import plotly

from salon.web.vendor import PLOTLY_PATH, plotly_url

BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
VERSION = metadata.version("plotly")


async def test_the_bundle_is_the_installed_file(client: httpx.AsyncClient) -> None:
    r = await client.get(PLOTLY_PATH)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == BUNDLE.read_bytes()
    assert r.headers["etag"] == f'"plotly-{VERSION}-{BUNDLE.stat().st_size}"'
    assert r.headers["cache-control"] == "public, no-cache"


async def test_the_versioned_url_is_cached_for_a_year(client: httpx.AsyncClient) -> None:
    assert plotly_url() == f"{PLOTLY_PATH}?v={VERSION}"
    r = await client.get(plotly_url())
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = await client.get(f"{PLOTLY_PATH}?v=0.0.1")
    assert stale.status_code == 200 and "immutable" not in stale.headers["cache-control"]


async def test_a_known_etag_is_304_without_a_body(client: httpx.AsyncClient) -> None:
    etag = (await client.get(PLOTLY_PATH)).headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}'):
        r = await client.get(PLOTLY_PATH, headers={"If-None-Match": header})
        assert r.status_code == 304, header
        assert r.content == b"" and r.headers["etag"] == etag
    r = await client.get(PLOTLY_PATH, headers={"If-None-Match": '"plotly-0.0.1-1"'})
    assert r.status_code == 200 and len(r.content) == BUNDLE.stat().st_size


async def test_other_vendor_paths_are_404(client: httpx.AsyncClient) -> None:
    for path in ("/static/vendor/plotly.js", "/static/vendor/../salon.css.js",
                 "/static/vendor/widgetbundle.js"):
        assert (await client.get(path)).status_code == 404, path
