"""HTTP side of the simulated Zalo surface: the paths production code calls, exactly as Zalo's.

One wrapper does what Zalo does around every call: injected faults, the ``access_token`` header,
the app-wide rate limit with its headers, the HTTP-200 envelope, and the call journal. The route
table at the bottom maps each path to its operation in ``openapi.py``.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from aiohttp import web

from zalosim import keys, openapi, rules

Operation = Callable[[openapi.ApiCall, web.Request, Any], Awaitable[openapi.Outcome]]


class Payload(Enum):
    JSON = "json"  # POST with a JSON body
    QUERY = "query"  # GET with ?data={json}
    MULTIPART = "multipart"  # POST multipart/form-data (uploads)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def media_base(request: web.Request) -> str:
    """Base URL for hosted media: configured, else the origin the caller reached us at."""
    return request.app[keys.SETTINGS].public_url or str(request.url.origin())


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise rules.invalid("body") from exc


def _journal_call(request: web.Request, **fields: Any) -> None:
    state = request.app[keys.STATE]
    record = {
        "method": request.method,
        "path": request.path,
        "at_ms": request.app[keys.CLOCK].now_ms(),
        "oa_key": None,
        "user_id": None,
        "query": dict(request.query),
        "body": None,
    } | fields
    state.journals.calls.append(record)
    state.stats[f"calls.{request.path}"] += 1
    if fields.get("error"):
        state.stats[f"errors.{fields['error']}"] += 1


async def _apply_faults(request: web.Request) -> web.Response | None:
    """Delay, then maybe answer with an injected HTTP or Zalo error instead of the real thing."""
    app = request.app
    state = app[keys.STATE]
    decision = app[keys.FAULTS].decide(request.path, app[keys.CLOCK].now())
    if decision.delay:
        await asyncio.sleep(decision.delay)
    if decision.http_status is not None:
        _journal_call(request, http_status=decision.http_status, fault_ids=decision.applied)
        return web.Response(status=decision.http_status, text=f"simulated HTTP {decision.http_status}")
    if decision.zalo_error is not None:
        error = decision.zalo_error
        body = rules.error_body(error.code, error.message)
        _journal_call(request, http_status=200, error=error.code, result=body, fault_ids=decision.applied)
        remain = state.rate.remaining(app[keys.CLOCK].now())
        return web.json_response(body, headers=rules.rate_limit_headers(state.rate.limit, remain), dumps=_dumps)
    return None


def zalo_endpoint(operation: Operation, payload: Payload) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        faulted = await _apply_faults(request)
        if faulted is not None:
            return faulted
        app = request.app
        state, clock, settings = app[keys.STATE], app[keys.CLOCK], app[keys.SETTINGS]
        now = clock.now()
        oa_key: str | None = None
        user_id: str | None = None
        parsed: Any = None
        remain: int | None = None
        try:
            oa_key = state.tokens.resolve(request.headers.get("access_token"), now)
            allowed, remain = state.rate.hit(now)
            if not allowed:
                raise rules.ZaloApiError(rules.Code.RATE_LIMITED)
            if payload is Payload.JSON:
                parsed = await _read_json(request)
            elif payload is Payload.QUERY:
                parsed = request.query.get("data")
            oa = state.registry.by_key(oa_key)
            assert oa is not None  # tokens are only minted for registry OAs
            call = openapi.ApiCall(
                state=state,
                oa=oa,
                now=now,
                media_base=media_base(request),
                article_verify_polls=settings.article_verify_polls,
            )
            outcome = await operation(call, request, parsed)
            body, user_id = outcome.body, outcome.user_id
            dispatcher = app[keys.WEBHOOK]
            for echo in outcome.echoes:
                dispatcher.enqueue(oa, echo, user_id=user_id, msg_id=echo["message"].get("msg_id"))
        except rules.ZaloApiError as error:
            body = rules.error_body(error.code, error.message)
        if remain is None:
            remain = state.rate.remaining(now)
        if isinstance(parsed, dict) and user_id is None:
            recipient = parsed.get("recipient")
            candidate = recipient.get("user_id") if isinstance(recipient, dict) else parsed.get("user_id")
            user_id = str(candidate) if candidate is not None else None
        _journal_call(
            request,
            oa_key=oa_key,
            user_id=user_id,
            body=parsed if payload is Payload.JSON else None,
            http_status=200,
            error=body["error"],
            result=body,
        )
        headers = rules.rate_limit_headers(state.rate.limit, remain)
        return web.json_response(body, headers=headers, dumps=_dumps)

    return handler


# -- operations adapted to (call, request, parsed payload) ---------------------------------------


async def _send_cs(call: openapi.ApiCall, request: web.Request, body: Any) -> openapi.Outcome:
    return openapi.send_cs(call, body)


async def _send_v2(call: openapi.ApiCall, request: web.Request, body: Any) -> openapi.Outcome:
    return openapi.send_v2_message(call, body)


async def _upload_image(call: openapi.ApiCall, request: web.Request, _: Any) -> openapi.Outcome:
    data, filename = b"", None
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        field = form.get("file")
        if isinstance(field, web.FileField):
            data, filename = field.file.read(), field.filename
    return openapi.upload_image(call, data, filename)


async def _user_detail(call: openapi.ApiCall, request: web.Request, data: Any) -> openapi.Outcome:
    return openapi.user_detail(call, data)


async def _user_getlist(call: openapi.ApiCall, request: web.Request, data: Any) -> openapi.Outcome:
    return openapi.user_getlist(call, data)


async def _tag_follower(call: openapi.ApiCall, request: web.Request, body: Any) -> openapi.Outcome:
    return openapi.tag_follower(call, body)


async def _remove_follower_from_tag(call: openapi.ApiCall, request: web.Request, body: Any) -> openapi.Outcome:
    return openapi.remove_follower_from_tag(call, body)


async def _remove_tag(call: openapi.ApiCall, request: web.Request, body: Any) -> openapi.Outcome:
    return openapi.remove_tag(call, body)


async def _tags_of_oa(call: openapi.ApiCall, request: web.Request, _: Any) -> openapi.Outcome:
    return openapi.tags_of_oa(call)


async def _article_create(call: openapi.ApiCall, request: web.Request, body: Any) -> openapi.Outcome:
    return openapi.article_create(call, body)


async def _article_verify(call: openapi.ApiCall, request: web.Request, body: Any) -> openapi.Outcome:
    return openapi.article_verify(call, body)


# -- OAuth and unknown paths ---------------------------------------------------------------------


async def oauth_access_token(request: web.Request) -> web.Response:
    """POST /v4/oa/access_token (host oauth.zaloapp.com in production): form body, no envelope.
    [U] not counted against the OpenAPI rate limit and without its headers (a different host)."""
    faulted = await _apply_faults(request)
    if faulted is not None:
        return faulted
    app = request.app
    state, settings = app[keys.STATE], app[keys.SETTINGS]
    form = {name: str(value) for name, value in (await request.post()).items()}
    oa_key: str | None = None
    try:
        body: dict[str, Any] = openapi.oauth_access_token(
            state,
            form,
            request.headers.get(rules.SECRET_KEY_HEADER),
            app_secret=settings.app_secret.get_secret_value(),
            now=app[keys.CLOCK].now(),
            ttl=settings.token_ttl_seconds,
        )
        oa_key = state.tokens.access[body["access_token"]].oa_key
    except rules.OAuthError as error:
        body = rules.oauth_error_body(error)
    _journal_call(request, oa_key=oa_key, body=form, http_status=200, error=body.get("error", 0), result=body)
    return web.json_response(body, dumps=_dumps)


async def unknown_path(request: web.Request) -> web.Response:
    """[U] Zalo answers HTTP 404 for paths it does not serve (e.g. bare /v3.0/oa/message)."""
    body = {"error": 404, "message": rules.UNKNOWN_PATH_MESSAGE}
    _journal_call(request, http_status=404, result=body)
    return web.json_response(body, status=404, dumps=_dumps)


ROUTES: list[tuple[str, str, Operation, Payload]] = [
    ("POST", "/v3.0/oa/message/cs", _send_cs, Payload.JSON),
    ("POST", "/v2.0/oa/message", _send_v2, Payload.JSON),
    ("POST", "/v2.0/oa/upload/image", _upload_image, Payload.MULTIPART),
    ("GET", "/v3.0/oa/user/detail", _user_detail, Payload.QUERY),
    ("GET", "/v3.0/oa/user/getlist", _user_getlist, Payload.QUERY),
    ("POST", "/v2.0/oa/tag/tagfollower", _tag_follower, Payload.JSON),
    ("POST", "/v2.0/oa/tag/rmfollowerfromtag", _remove_follower_from_tag, Payload.JSON),
    ("POST", "/v2.0/oa/tag/rmtag", _remove_tag, Payload.JSON),
    ("GET", "/v2.0/oa/tag/gettagsofoa", _tags_of_oa, Payload.QUERY),
    ("POST", "/v2.0/article/create", _article_create, Payload.JSON),
    ("POST", "/v2.0/article/verify", _article_verify, Payload.JSON),
]


def add_routes(app: web.Application) -> None:
    """The Zalo surface; call last, after the control routes (it ends with a catch-all 404)."""
    for method, path, operation, payload in ROUTES:
        app.router.add_route(method, path, zalo_endpoint(operation, payload))
    app.router.add_post("/v4/oa/access_token", oauth_access_token)
    app.router.add_route("*", "/{tail:.*}", unknown_path)
