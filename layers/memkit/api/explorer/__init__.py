"""The memory explorer: one static page at ``/explorer`` for the people who run an agent's memory
(what does the agent remember about this user, why did it say that, erase this user).

The page (``index.html``, ``explorer.js``, ``explorer.css``: hand-written, no build step, nothing
fetched from elsewhere) reads and changes memory only through the API's own routes, with the
credential its user types in. It is served when ``MEMKIT_EXPLORER`` is on (the default outside
Lambda).

**The files themselves need no authentication**: they are the same for everyone and hold no
memory data. Every byte of memory the page shows comes from an API route that authenticates as
usual. The page sends its credential as ``Authorization: Bearer``, which both ``api-key`` and
``jwt`` modes read. A browser cannot attach a bearer token to the navigation that loads a page,
so guarding the page would only lock jwt users out of it while protecting nothing.

**Loaded lazily**: ``memkit.api.app`` imports this module on the first request for the page, and
the files are read on first use, so the API function's cold path never pays for the explorer.

**Hostile content**: stored messages are whatever agents and users wrote. The script builds the
page with ``textContent`` and DOM nodes only (never HTML from data), links only http(s) and
``data:`` URLs, and the Content-Security-Policy below allows no script but ``explorer.js``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

FILES_DIR = Path(__file__).parent
PAGE = ("index.html", "text/html; charset=utf-8")
ASSETS = {
    "explorer.js": "text/javascript; charset=utf-8",
    "explorer.css": "text/css; charset=utf-8",
}
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        # data: for the empty favicon only; the page shows no images.
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    # Small files; revalidating keeps an upgraded server from running an old script.
    "cache-control": "no-cache",
}


@lru_cache(maxsize=None)
def _read(name: str) -> bytes:
    return (FILES_DIR / name).read_bytes()


def serve(request: Request) -> Response:
    """``GET /explorer`` (the page) and ``GET /explorer/{asset}`` (its script and stylesheet)."""
    asset = request.path_params.get("asset")
    if asset is None:
        name, media_type = PAGE
    elif asset in ASSETS:
        name, media_type = asset, ASSETS[asset]
    else:
        return JSONResponse({"error": f"The explorer has no file {asset!r}"}, status_code=404)
    return Response(_read(name), media_type=media_type, headers=HEADERS)
