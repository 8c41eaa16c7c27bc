"""The pages: one HTML document, static CSS and JavaScript modules, and the headers every answer gets.

No inline script or style anywhere, so the Content-Security-Policy can forbid both. Images may come from
https: hosts because the newsroom previews the cover photo an editor links to; everything else is 'self'.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = STATIC_DIR / "index.html"
CSRF_HEADER = "X-Requested-By"
CSRF_VALUE = "zan-console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer, errors and proxied ones included (a proxied photo keeps its own stricter CSP)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-cache")
    else:
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def csrf_guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """A state change must come from the console's own scripts: a custom header a cross-site form cannot
    send (and a cross-origin script could only send after a CORS preflight, which nothing here grants)."""
    if request.method not in SAFE_METHODS and request.path.startswith(("/api/", "/console/api/")):
        site = request.headers.get("Sec-Fetch-Site")
        if request.headers.get(CSRF_HEADER) != CSRF_VALUE or site not in (None, "same-origin", "none"):
            return web.json_response({"error": "forbidden", "detail": "cross-site request refused"}, status=403)
    return await handler(request)


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(INDEX, headers={"Content-Type": "text/html; charset=utf-8"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False, show_index=False)
