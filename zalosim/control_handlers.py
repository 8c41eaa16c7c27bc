"""The control API under ``/_sim/``: drive citizens, inspect what the OAs did, inject faults.

JSON in, JSON out; mistakes in a control request are HTTP 400 ``{"error": "..."}``, an unknown OA
key is 404. The route table is at the bottom; ``zalosim/README.md`` documents every route.
"""

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from zalosim import citizens, keys, rules
from zalosim.control_models import (
    CITIZEN_ACTIONS,
    FAULT_SPEC,
    AuthCodeBody,
    ClockAdvanceBody,
    ExpireTokenFault,
    LastInteractionBody,
    RateLimitFault,
    ResetBody,
    SeedBody,
    WebhookBody,
)
from zalosim.faults import FaultKind
from zalosim.openapi_handlers import media_base
from zalosim.registry import OaEntry
from zalosim.state import RecordLog

Model = TypeVar("Model", bound=BaseModel)

DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda value: json.dumps(value, ensure_ascii=False))


def _bad_request(message: str, details: Any = None) -> web.HTTPBadRequest:
    body: dict[str, Any] = {"error": message}
    if details is not None:
        body["details"] = details
    return web.HTTPBadRequest(text=json.dumps(body, ensure_ascii=False), content_type="application/json")


async def _body(request: web.Request, model: type[Model]) -> Model:
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _bad_request("invalid body", json.loads(exc.json(include_url=False))) from exc


def _oa(request: web.Request, key: str | None = None) -> OaEntry:
    oa_key = key if key is not None else request.match_info["oa_key"]
    oa = request.app[keys.STATE].registry.by_key(oa_key)
    if oa is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"unknown OA key {oa_key!r}"}), content_type="application/json"
        )
    return oa


def _user_id(request: web.Request) -> str:
    user_id = request.match_info["user_id"]
    if not rules.is_zalo_id(user_id):
        raise _bad_request("user_id must be a decimal id without leading zeros that fits in int64")
    return user_id


def _int_query(request: web.Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise _bad_request(f"{name} must be an integer") from exc
    return min(value, maximum) if maximum is not None else value


def _page(request: web.Request, journal: RecordLog, filters: tuple[str, ...]) -> web.Response:
    """Journal records after ``since`` (a sequence number), filtered by exact field values."""
    since = _int_query(request, "since", 0)
    limit = _int_query(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    wanted = {name: request.query[name] for name in filters if request.query.get(name)}

    def matches(record: dict[str, Any]) -> bool:
        return all(str(record.get(name)) == value for name, value in wanted.items())

    items = journal.query(since=since, limit=limit, where=matches if wanted else None)
    next_since = items[-1]["seq"] if items else since
    return _json({"items": items, "next_since": next_since, "total": journal.total})


# -- health, registry, media ----------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    app = request.app
    state, clock = app[keys.STATE], app[keys.CLOCK]
    return _json(
        {
            "status": "ok",
            "app_id": state.registry.app_id,
            "oas": len(state.registry.oas),
            "webhook": {"url": state.webhook.url, "subscribed": state.webhook.subscribed},
            "clock_ms": clock.now_ms(),
            "clock_offset_seconds": clock.offset,
            "last_seq": state.last_seq,
        }
    )


async def list_oas(request: web.Request) -> web.Response:
    state = request.app[keys.STATE]
    return _json({"app_id": state.registry.app_id, "oas": [oa.public() for oa in state.registry.oas]})


async def get_media(request: web.Request) -> web.Response:
    media = request.app[keys.STATE].media.get(request.match_info["media_id"])
    if media is None:
        raise web.HTTPNotFound()
    return web.Response(body=media.data, content_type=media.content_type)


# -- citizens -------------------------------------------------------------------------------------


async def citizen_action(request: web.Request) -> web.Response:
    """POST /_sim/users/{oa_key}/{user_id}/{action}: build, sign and deliver one citizen event."""
    oa, user_id, action = _oa(request), _user_id(request), request.match_info["action"]
    if action == "last_interaction":
        return await _set_last_interaction(request, oa, user_id)
    model = CITIZEN_ACTIONS.get(action)
    if model is None:
        raise _bad_request(f"unknown action {action!r}; one of {sorted([*CITIZEN_ACTIONS, 'last_interaction'])}")
    body = await _body(request, model)
    app = request.app
    try:
        built = citizens.citizen_event(
            app[keys.STATE], oa, user_id, action, body, app[keys.CLOCK].now(), media_base(request)
        )
    except citizens.CitizenInputError as exc:
        raise _bad_request(str(exc)) from exc
    record = await app[keys.WEBHOOK].deliver_now(oa, built.event, user_id=user_id, msg_id=built.msg_id)
    delivery = {name: value for name, value in record.items() if name != "body"}
    return _json({"event": built.event, "msg_id": built.msg_id, "delivery": delivery})


async def _set_last_interaction(request: web.Request, oa: OaEntry, user_id: str) -> web.Response:
    body = await _body(request, LastInteractionBody)
    state, now = request.app[keys.STATE], request.app[keys.CLOCK].now()
    users = state.users[oa.key]
    index = users.ensure(user_id)
    users.set_last_interaction(index, None if body.seconds_ago is None else now - body.seconds_ago)
    return _json(_user_view(request, oa, user_id))


def _user_view(request: web.Request, oa: OaEntry, user_id: str) -> dict[str, Any]:
    state, now = request.app[keys.STATE], request.app[keys.CLOCK].now()
    users = state.users[oa.key]
    index = users.find(user_id)
    view: dict[str, Any] = {"oa_key": oa.key, "user_id": user_id, "known": index is not None}
    if index is None:
        return view | {"follower": False, "last_interaction_ms": None, "window": "closed", "tags": []}
    last = users.last_interaction(index)
    try:
        window = str(rules.cs_quota_type(last, now))
    except rules.ZaloApiError:
        window = "closed"
    extras = users.peek_extras(index)
    return view | {
        "follower": users.is_follower(index),
        "last_interaction_ms": None if last is None else int(last * 1000),
        "seconds_since_interaction": None if last is None else round(now - last, 3),
        "window": window,
        "tags": users.tags_of(index),
        "display_name": extras.display_name if extras else None,
        "shared_info": extras.shared_info if extras else None,
    }


async def get_user(request: web.Request) -> web.Response:
    return _json(_user_view(request, _oa(request), _user_id(request)))


async def seed_followers(request: web.Request) -> web.Response:
    body = await _body(request, SeedBody)
    oa = _oa(request, body.oa_key)
    app = request.app
    state = app[keys.STATE]
    added, sample = citizens.seed_followers(
        state, oa, body.count, body.active_share, body.tag_name, app[keys.CLOCK].now()
    )
    users = state.users[oa.key]
    return _json(
        {
            "oa_key": oa.key,
            "added": added,
            "followers": users.follower_count(),
            "users": len(users),
            "sample_user_ids": sample,
        }
    )


# -- journals -------------------------------------------------------------------------------------


async def list_messages(request: web.Request) -> web.Response:
    return _page(request, request.app[keys.STATE].journals.messages, ("oa_key", "user_id", "type", "quota_type"))


async def list_calls(request: web.Request) -> web.Response:
    return _page(request, request.app[keys.STATE].journals.calls, ("path", "oa_key", "user_id", "error", "method"))


async def list_broadcasts(request: web.Request) -> web.Response:
    return _page(request, request.app[keys.STATE].journals.broadcasts, ("oa_key",))


async def list_deliveries(request: web.Request) -> web.Response:
    return _page(
        request,
        request.app[keys.STATE].journals.deliveries,
        ("event_name", "oa_key", "user_id", "status", "msg_id"),
    )


async def list_articles(request: web.Request) -> web.Response:
    state = request.app[keys.STATE]
    oa_key = request.query.get("oa_key")
    articles = [a.public() for a in state.articles_by_id.values() if oa_key in (None, "", a.oa_key)]
    return _json({"items": articles})


async def list_tags(request: web.Request) -> web.Response:
    """Tags per OA with their members (the first ``limit`` user ids of each)."""
    state = request.app[keys.STATE]
    oa_key, tag_name = request.query.get("oa_key"), request.query.get("tag_name")
    limit = _int_query(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    items = []
    for oa in state.registry.oas:
        if oa_key and oa.key != oa_key:
            continue
        users = state.users[oa.key]
        for name in users.tag_names():
            if tag_name and name != tag_name:
                continue
            members = users.tag_members(name)
            items.append(
                {
                    "oa_key": oa.key,
                    "tag_name": name,
                    "count": len(members),
                    "user_ids": [users.user_id(i) for i in members[:limit]],
                }
            )
    return _json({"items": items})


async def stats(request: web.Request) -> web.Response:
    app = request.app
    state = app[keys.STATE]
    journals = state.journals
    return _json(
        {
            "counters": dict(sorted(state.stats.items())),
            "totals": {
                "calls": journals.calls.total,
                "messages": journals.messages.total,
                "broadcasts": journals.broadcasts.total,
                "deliveries": journals.deliveries.total,
            },
            "pending_webhook_retries": app[keys.WEBHOOK].pending_retries(),
            "users": {oa.key: len(state.users[oa.key]) for oa in state.registry.oas},
            "followers": {oa.key: state.users[oa.key].follower_count() for oa in state.registry.oas},
            "rate_limit": {"limit": state.rate.limit, "window_seconds": state.rate.window_seconds},
        }
    )


# -- webhook target -------------------------------------------------------------------------------


def _webhook_view(request: web.Request) -> dict[str, Any]:
    target = request.app[keys.STATE].webhook
    return {
        "url": target.url,
        "subscribed": target.subscribed,
        "unsubscribed_at_ms": None if target.unsubscribed_at is None else int(target.unsubscribed_at * 1000),
        "pending_retries": request.app[keys.WEBHOOK].pending_retries(),
    }


async def get_webhook(request: web.Request) -> web.Response:
    return _json(_webhook_view(request))


async def set_webhook(request: web.Request) -> web.Response:
    """Change the webhook URL and/or (re-)subscribe the app, like an admin in the app console."""
    body = await _body(request, WebhookBody)
    target = request.app[keys.STATE].webhook
    if body.url is not None:
        target.url = body.url
    if body.subscribed is not None:
        target.subscribed = body.subscribed
        target.unsubscribed_at = None if body.subscribed else request.app[keys.CLOCK].now()
    return _json(_webhook_view(request))


async def retry_webhooks_now(request: web.Request) -> web.Response:
    return _json({"made_due": request.app[keys.WEBHOOK].retry_now()})


# -- OAuth bootstrap ------------------------------------------------------------------------------


def _grant(request: web.Request, oa: OaEntry) -> dict[str, Any]:
    app = request.app
    settings = app[keys.SETTINGS]
    pair = app[keys.STATE].tokens.mint(oa.key, app[keys.CLOCK].now(), settings.token_ttl_seconds)
    return {"oa_key": oa.key, "oa_id": oa.oa_id} | rules.token_response(
        pair.access_token, pair.refresh_token, pair.expires_in
    )


async def grant_one(request: web.Request) -> web.Response:
    """Mint an access/refresh pair for one OA, like API Explorer on developers.zalo.me."""
    return _json(_grant(request, _oa(request)))


async def grant_all(request: web.Request) -> web.Response:
    state = request.app[keys.STATE]
    return _json({"items": [_grant(request, oa) for oa in state.registry.oas]})


async def issue_code(request: web.Request) -> web.Response:
    """An authorization code as if an OA admin consented (for the authorization_code grant)."""
    oa = _oa(request)
    body = await _body(request, AuthCodeBody)
    code = request.app[keys.STATE].tokens.issue_code(oa.key, request.app[keys.CLOCK].now(), body.code_challenge)
    return _json({"oa_key": oa.key, "oa_id": oa.oa_id, "code": code, "expires_in": rules.AUTH_CODE_TTL_SECONDS})


async def expire_tokens(request: web.Request) -> web.Response:
    oa = _oa(request)
    expired = request.app[keys.STATE].tokens.expire_oa(oa.key, request.app[keys.CLOCK].now())
    return _json({"oa_key": oa.key, "expired": expired})


async def token_summary(request: web.Request) -> web.Response:
    return _json(request.app[keys.STATE].tokens.summary(request.app[keys.CLOCK].now()))


# -- faults, clock, reset -------------------------------------------------------------------------


async def add_fault(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        spec = FAULT_SPEC.validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _bad_request("invalid fault", json.loads(exc.json(include_url=False))) from exc
    app = request.app
    state, now = app[keys.STATE], app[keys.CLOCK].now()
    if isinstance(spec, ExpireTokenFault):
        oa = _oa(request, spec.oa_key)
        return _json({"kind": spec.kind, "oa_key": oa.key, "expired": state.tokens.expire_oa(oa.key, now)})
    if isinstance(spec, RateLimitFault):
        state.rate.configure(spec.limit, spec.window_seconds)
        return _json({"kind": spec.kind, "limit": state.rate.limit, "window_seconds": state.rate.window_seconds})
    kind = FaultKind(spec.kind)
    count = spec.count
    if count is None and spec.duration_seconds is None and kind is not FaultKind.LATENCY:
        count = 1  # "the next request" unless told otherwise; latency stays until cleared
    fault = app[keys.FAULTS].add(
        kind,
        now,
        path=spec.path,
        count=count,
        duration_seconds=spec.duration_seconds,
        seconds=getattr(spec, "seconds", 0.0),
        status=getattr(spec, "status", 503),
        code=getattr(spec, "code", 0),
        message=getattr(spec, "message", None),
    )
    return _json(fault.public(now), status=201)


async def list_faults(request: web.Request) -> web.Response:
    now = request.app[keys.CLOCK].now()
    return _json({"items": [fault.public(now) for fault in request.app[keys.FAULTS].active(now)]})


async def clear_faults(request: web.Request) -> web.Response:
    """Remove every injected fault and restore the configured rate limit."""
    app = request.app
    settings = app[keys.SETTINGS]
    app[keys.FAULTS].clear()
    app[keys.STATE].rate.configure(settings.rate_limit, settings.rate_window_seconds)
    return _json({"cleared": True})


async def remove_fault(request: web.Request) -> web.Response:
    try:
        fault_id = int(request.match_info["fault_id"])
    except ValueError as exc:
        raise web.HTTPNotFound() from exc
    if not request.app[keys.FAULTS].remove(fault_id):
        raise web.HTTPNotFound()
    return _json({"removed": fault_id})


async def get_clock(request: web.Request) -> web.Response:
    clock = request.app[keys.CLOCK]
    return _json({"now_ms": clock.now_ms(), "offset_seconds": clock.offset})


async def advance_clock(request: web.Request) -> web.Response:
    body = await _body(request, ClockAdvanceBody)
    clock = request.app[keys.CLOCK]
    clock.advance(body.seconds)
    return _json({"now_ms": clock.now_ms(), "offset_seconds": clock.offset})


async def reset(request: web.Request) -> web.Response:
    """Back to start-up state; the webhook URL stays, the app is subscribed again."""
    body = await _body(request, ResetBody)
    app = request.app
    state = app[keys.STATE]
    url = state.webhook.url
    state.reset(keep_tokens=body.keep_tokens)
    state.webhook.url = url
    app[keys.FAULTS].clear()
    app[keys.WEBHOOK].clear()
    app[keys.CLOCK].reset()
    return _json({"reset": True, "kept_tokens": body.keep_tokens})


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/_sim/health", health)
    router.add_get("/_sim/oas", list_oas)
    router.add_get("/_sim/media/{media_id}", get_media)
    router.add_get("/_sim/users/{oa_key}/{user_id}", get_user)
    router.add_post("/_sim/users/{oa_key}/{user_id}/{action}", citizen_action)
    router.add_post("/_sim/followers/seed", seed_followers)
    router.add_get("/_sim/messages", list_messages)
    router.add_get("/_sim/calls", list_calls)
    router.add_get("/_sim/broadcasts", list_broadcasts)
    router.add_get("/_sim/articles", list_articles)
    router.add_get("/_sim/tags", list_tags)
    router.add_get("/_sim/deliveries", list_deliveries)
    router.add_get("/_sim/stats", stats)
    router.add_get("/_sim/webhook", get_webhook)
    router.add_post("/_sim/webhook", set_webhook)
    router.add_post("/_sim/webhook/retry_now", retry_webhooks_now)
    router.add_get("/_sim/oauth", token_summary)
    router.add_post("/_sim/oauth/grant", grant_all)
    router.add_post("/_sim/oauth/{oa_key}/grant", grant_one)
    router.add_post("/_sim/oauth/{oa_key}/code", issue_code)
    router.add_post("/_sim/oauth/{oa_key}/expire", expire_tokens)
    router.add_get("/_sim/faults", list_faults)
    router.add_post("/_sim/faults", add_fault)
    router.add_delete("/_sim/faults", clear_faults)
    router.add_delete("/_sim/faults/{fault_id}", remove_fault)
    router.add_get("/_sim/clock", get_clock)
    router.add_post("/_sim/clock/advance", advance_clock)
    router.add_post("/_sim/reset", reset)
