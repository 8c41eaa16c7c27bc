"""Editor API under /api/v1/: campaigns, approval (four eyes), lifecycle, progress, preview.

Every route needs a bearer JWT (role editor or supervisor). Errors are JSON
`{"error": code, "detail": text, "fields": {field: message}}`: 400 bad JSON, 401 no/invalid token,
403 role or four eyes, 404 unknown campaign, 409 state does not allow the action, 422 validation.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, cast

from aiohttp import web
from pydantic import ValidationError

from servicekit.ids import derived_id, new_id
from servicekit.service import KIT
from services.news import domain
from services.news.auth import AuthError, Principal, authenticate
from services.news.domain import CampaignSpec, Channels, Forbidden, InvalidTransition, Target
from services.news.fanout import LEASE_PREFIX, Conflict, NotFound, campaign_progress, change_state
from services.news.handlers import Deps

PREFIX = "/api/v1"
ACTIONS = ("approve", "pause", "resume", "cancel")
MAX_LIST = 200


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.fields = fields or {}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _respond(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda o: json.dumps(o, default=_json_default, ensure_ascii=False)
    )


def _error(status: int, code: str, detail: str, fields: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"error": code, "detail": detail}
    if fields:
        body["fields"] = fields
    response = _respond(body, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="news"'
    return response


@web.middleware
async def api_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Domain and auth exceptions → JSON error responses."""
    try:
        return await handler(request)
    except ApiError as e:
        return _error(e.status, e.code, e.detail, e.fields)
    except AuthError as e:
        return _error(e.status, e.code, e.detail)
    except Forbidden as e:
        return _error(403, "forbidden", str(e))
    except InvalidTransition as e:
        return _error(409, "invalid_state", str(e))
    except NotFound:
        return _error(404, "not_found", "no such campaign")
    except Conflict:
        return _error(409, "conflict", "the campaign changed meanwhile; try again")


def _deps(request: web.Request) -> Deps:
    return cast(Deps, request.app[KIT].deps)


def _principal(request: web.Request, deps: Deps) -> Principal:
    return authenticate(request, deps.verifier)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_request", "body is not JSON") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "a JSON object is expected")
    return data


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for e in exc.errors(include_input=False, include_url=False):
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        fields.setdefault(_loc(tuple(e["loc"])), msg)
    return fields


def _parse(model: type[Any], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "validation", "invalid input", _fields(exc)) from exc


async def _validate(deps: Deps, spec: CampaignSpec) -> None:
    now = deps.clock()
    tolerance = timedelta(seconds=deps.settings.schedule_tolerance_s)
    errors = domain.validate_spec(spec, deps.registry, now, tolerance)
    target_ok = not any(k == "target" or k.startswith("target.") for k in errors)
    if target_ok and not await deps.store.any_match(domain.audience_filter(spec.target, deps.registry)):
        errors["target"] = "matches no follower"
    if errors:
        raise ApiError(422, "validation", "the campaign cannot be sent as it is", errors)


def view(c: dict[str, Any]) -> dict[str, Any]:
    """The public form of a campaign."""
    keys = (
        "author",
        "author_unit",
        "editors",
        "approved_by",
        "created_at",
        "updated_at",
        "approved_at",
        "started_at",
        "paused_at",
        "resumed_at",
        "cancelled_at",
        "finished_at",
    )
    out: dict[str, Any] = {"id": c["_id"], "state": c["state"], "version": c.get("version", 1), **c["spec"]}
    out.update({k: c.get(k) for k in keys})
    out["history"] = c.get("history", [])
    return out


async def _load(deps: Deps, campaign_id: str) -> dict[str, Any]:
    c = await deps.store.get_campaign(campaign_id)
    if c is None:
        raise NotFound(campaign_id)
    return c


def _authorize(action: str, p: Principal, c: dict[str, Any] | None = None) -> None:
    domain.authorize(
        action,
        role=p.role,
        sub=p.sub,
        author=c["author"] if c else p.sub,
        editors=list(c.get("editors", [])) if c else [],
        state=c["state"] if c else "draft",
    )


# --- routes -------------------------------------------------------------------------------------
async def create_campaign(request: web.Request) -> web.Response:
    deps = _deps(request)
    p = _principal(request, deps)
    _authorize("create", p)
    spec = _parse(CampaignSpec, await _body(request))
    await _validate(deps, spec)
    key = request.headers.get("Idempotency-Key")
    campaign_id = derived_id("news-campaign", p.sub, key) if key else new_id()
    now = deps.clock()
    oa_ids = [o.oa_id for o in domain.broadcast_oas(spec.target, deps.registry)]
    created = domain.lifecycle_event(campaign_id, "created", 1, now, oa_ids, None)
    doc = {
        "_id": campaign_id,
        "state": "draft",
        "version": 1,
        "spec": spec.model_dump(mode="json"),
        "send_at": spec.send_at,
        "author": p.sub,
        "author_unit": p.unit,
        "editors": [],
        "created_at": now,
        "updated_at": now,
        "history": [{"change": "created", "at": now, "by": p.sub, "version": 1}],
        "outbox": [created.model_dump(mode="json")],
        "outbox_published": 0,
        "outbox_pending": True,
    }
    if not await deps.store.insert_campaign(doc):
        return _respond(view(await _load(deps, campaign_id)), 200)  # a retried create
    deps.metrics.transitions.labels("created").inc()
    deps.wake.set()
    return _respond(view(doc), 201)


async def list_campaigns(request: web.Request) -> web.Response:
    deps = _deps(request)
    _authorize("read", _principal(request, deps))
    state = request.query.get("state")
    if state is not None and state not in domain.STATES:
        raise ApiError(422, "validation", "unknown state", {"state": f"one of {', '.join(domain.STATES)}"})
    try:
        limit = max(1, min(MAX_LIST, int(request.query.get("limit", "50"))))
    except ValueError as exc:
        raise ApiError(422, "validation", "limit must be a number", {"limit": "integer"}) from exc
    docs = await deps.store.list_campaigns(state, limit)
    return _respond({"campaigns": [view(d) for d in docs]})


async def get_campaign(request: web.Request) -> web.Response:
    deps = _deps(request)
    _authorize("read", _principal(request, deps))
    return _respond(view(await _load(deps, request.match_info["campaign_id"])))


async def edit_campaign(request: web.Request) -> web.Response:
    deps = _deps(request)
    p = _principal(request, deps)
    c = await _load(deps, request.match_info["campaign_id"])
    _authorize("edit", p, c)
    if c["state"] != "draft":
        raise InvalidTransition(f"cannot edit a campaign that is {c['state']}")
    # Top-level fields replace the stored ones (target and channels as a whole).
    spec = _parse(CampaignSpec, {**c["spec"], **await _body(request)})
    await _validate(deps, spec)
    async with deps.locks(LEASE_PREFIX + c["_id"]):
        doc = await _save_edit(deps, c, spec, p)
    if doc is None:
        raise Conflict(c["_id"])
    return _respond(view(doc))


async def _save_edit(deps: Deps, c: dict[str, Any], spec: CampaignSpec, p: Principal) -> dict[str, Any] | None:
    editors = list(c.get("editors", []))
    if p.sub != c["author"] and p.sub not in editors:
        editors.append(p.sub)
    now = deps.clock()
    version = int(c.get("version", 1))
    return await deps.store.update_campaign(
        c["_id"],
        {"state": "draft", "version": version},
        {
            "$set": {
                "spec": spec.model_dump(mode="json"),
                "send_at": spec.send_at,
                "editors": editors,
                "updated_at": now,
            },
            "$inc": {"version": 1},
            "$push": {"history": {"change": "edited", "at": now, "by": p.sub, "version": version + 1}},
        },
    )


async def campaign_action(request: web.Request) -> web.Response:
    deps = _deps(request)
    p = _principal(request, deps)
    action = request.match_info["action"]
    campaign_id = request.match_info["campaign_id"]
    extra: dict[str, Any] = {}
    if action == "approve":
        c = await _load(deps, campaign_id)
        _authorize(action, p, c)
        domain.next_state(c["state"], action)
        await _validate(deps, CampaignSpec.model_validate(c["spec"]))
        extra["approved_by"] = p.sub

    def precheck(c: dict[str, Any]) -> None:
        _authorize(action, p, c)

    doc = await change_state(deps, campaign_id, action, by=p.sub, extra=extra, precheck=precheck)
    return _respond(view(doc))


async def campaign_progress_route(request: web.Request) -> web.Response:
    deps = _deps(request)
    _authorize("read", _principal(request, deps))
    c = await _load(deps, request.match_info["campaign_id"])
    prog = await campaign_progress(deps, c["_id"])
    return _respond({"campaign_id": c["_id"], "state": c["state"], **prog})


async def preview(request: web.Request) -> web.Response:
    """How many followers a target covers, and how many of them a direct message reaches now."""
    deps = _deps(request)
    _authorize("read", _principal(request, deps))
    body = await _body(request)
    target = _parse(Target, body.get("target", {}))
    channels = _parse(Channels, body.get("channels", {}))
    errors = domain.target_errors(target, channels, deps.registry)
    if errors:
        raise ApiError(422, "validation", "invalid target", errors)
    window = domain.dm_window(channels, deps.settings.free_window_h, deps.settings.billed_window_h)
    followers = await deps.store.count(domain.audience_filter(target, deps.registry))
    reachable = await deps.store.count(domain.reachable_filter(target, deps.registry, deps.clock() - window))
    return _respond(
        {
            "followers": followers,
            "reachable_directly": reachable,
            "not_reachable_directly": followers - reachable,
            "window_hours": window.total_seconds() / 3600,
            "broadcast_oas": [o.key for o in domain.broadcast_oas(target, deps.registry)],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/campaigns", create_campaign)
    app.router.add_get(f"{PREFIX}/campaigns", list_campaigns)
    app.router.add_get(f"{PREFIX}/campaigns/{{campaign_id}}", get_campaign)
    app.router.add_patch(f"{PREFIX}/campaigns/{{campaign_id}}", edit_campaign)
    app.router.add_post(f"{PREFIX}/campaigns/{{campaign_id}}/{{action:{'|'.join(ACTIONS)}}}", campaign_action)
    app.router.add_get(f"{PREFIX}/campaigns/{{campaign_id}}/progress", campaign_progress_route)
    app.router.add_post(f"{PREFIX}/preview", preview)
