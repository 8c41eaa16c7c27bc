"""Same-origin reverse proxy: `/api/reports/v1/…` → reports `/api/v1/…`, `/api/news/v1/…` → news.

The browser talks to one origin only (no CORS, cookies never leave it). Each call carries the caller's
token as `Authorization: Bearer` (see auth.py); the request headers the APIs use pass, nothing else does
(cookies stay here). Answers are read whole before they are returned, so a failing upstream is a clean
502/504 rather than a cut-off body; the largest answer is a photo (the reports API caps them at 10 MiB).
"""

from __future__ import annotations

import logging
import uuid

import aiohttp
from aiohttp import web

from services.console import auth, domain
from services.console.keys import CONSOLE

log = logging.getLogger("console.proxy")

METHODS = frozenset({"GET", "HEAD", "POST", "PATCH"})
MAX_ANSWER_BYTES = 16 * 1024 * 1024


def _error(status: int, error: str, detail: str) -> web.Response:
    return web.json_response({"error": error, "detail": detail}, status=status)


async def forward(request: web.Request, upstream: str) -> web.Response:
    state = request.app[CONSOLE]
    settings = state.settings
    if request.method not in METHODS:
        return web.json_response(
            {"error": "method_not_allowed", "detail": request.method},
            status=405,
            headers={"Allow": ", ".join(sorted(METHODS))},
        )
    base = settings.reports_url if upstream == auth.REPORTS else settings.news_url
    prefix = f"/api/{upstream}/"
    url = domain.upstream_url(base, request.rel_url.raw_path[len(prefix) :], request.rel_url.raw_query_string)
    if url is None:
        return _error(404, "not_found", "only /api/{reports,news}/v1/… is forwarded")
    creds = auth.credentials(request.headers, request.cookies, settings)
    if creds is None:
        return _error(401, "unauthorized", "not signed in")
    token = creds.token_for(upstream)
    if token is None:
        return _error(403, "forbidden", f"this role does not use the {upstream} API")
    headers = domain.pick_headers(request.headers, domain.REQUEST_HEADERS)
    headers["Authorization"] = f"Bearer {token}"
    headers["X-Request-Id"] = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    xff = domain.forwarded_for(request.headers.get("X-Forwarded-For"), request.remote)
    if xff:
        headers["X-Forwarded-For"] = xff
    body = await request.read() if request.can_read_body else None
    assert state.http is not None, "the HTTP client exists while the app runs"
    try:
        async with state.http.request(request.method, url, headers=headers, data=body, allow_redirects=False) as answer:
            if (answer.content_length or 0) > MAX_ANSWER_BYTES:
                return _error(502, "upstream_too_large", f"the {upstream} answer is too large")
            payload = await answer.content.read(MAX_ANSWER_BYTES + 1)
            if len(payload) > MAX_ANSWER_BYTES:
                return _error(502, "upstream_too_large", f"the {upstream} answer is too large")
            out = domain.pick_headers(answer.headers, domain.RESPONSE_HEADERS)
            out.setdefault("Cache-Control", "no-store")
            return web.Response(status=answer.status, body=payload, headers=out)
    except TimeoutError:
        log.warning("upstream timeout", extra={"upstream": upstream})
        return _error(504, "upstream_timeout", f"the {upstream} service did not answer in time")
    except aiohttp.ClientError as exc:
        log.warning("upstream unreachable", extra={"upstream": upstream, "error": type(exc).__name__})
        return _error(502, "upstream_unavailable", f"the {upstream} service is not reachable")


async def reports(request: web.Request) -> web.Response:
    return await forward(request, auth.REPORTS)


async def news(request: web.Request) -> web.Response:
    return await forward(request, auth.NEWS)


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/api/reports/{tail:.*}", reports)
    app.router.add_route("*", "/api/news/{tail:.*}", news)
