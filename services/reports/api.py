"""The officer API (`/api/v1/...`): JSON over aiohttp, Bearer JWTs, an audit entry for every call.

Rules that hold for every route:
- no token or a bad one → 401; a case of another unit → 404 (existence does not leak); a list, unit or
  action that is not the caller's → 403; an invalid transition or a stale version → 409;
- the reporter's Zalo id never appears in a response (anonymous: nothing; named: a pseudonym);
- the audit entry (who, what, when, client IP, status) is written before the response leaves; if it
  cannot be written, the caller gets 503 instead of the data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from contracts import HandoffEvent, citizen_key
from contracts.topics import CONVERSATION_HANDOFFS
from servicekit.ids import derived_id, new_id
from servicekit.producer import EventProducer
from servicekit.service import KIT
from servicekit.text import fold
from services.reports import changes, notices
from services.reports.apimodels import (
    AssignIn,
    AttachmentOut,
    AuditEntryOut,
    AuditListOut,
    CaseDetailOut,
    CaseListOut,
    CaseStateOut,
    CaseSummaryOut,
    ErrorOut,
    HandoffListOut,
    HandoffOut,
    HistoryEntryOut,
    LocationOut,
    NoteIn,
    NoticeListOut,
    NoticeOut,
    ReplyIn,
    ReporterOut,
    StatusChangeIn,
    TransferIn,
)
from services.reports.auth import Authenticator, AuthError, Principal
from services.reports.caseindex import CaseSummary, ListFilter
from services.reports.changes import OfficerCommand, VersionConflict
from services.reports.deps import PRODUCER_NAME, Deps
from services.reports.domain import (
    STATUSES,
    VN_TZ,
    Cursor,
    InvalidInput,
    InvalidTransition,
    decode_cursor,
    encode_cursor,
    parse_case_code,
)
from services.reports.store import CaseView, ms

log = logging.getLogger("reports.api")

PREFIX = "/api/v1"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CASE_ID = re.compile(r"^[0-9a-f]{32}$")
M = TypeVar("M", bound=BaseModel)


@dataclass
class ApiState:
    """Filled when the app starts (the dependencies exist only then)."""

    deps: Deps | None = None
    auth: Authenticator | None = None
    openapi: bytes = b""


@dataclass
class AuditNote:
    """What a route tells the audit middleware about the call."""

    action: str = "api.call"
    case_id: str | None = None
    case_ids: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


API = web.AppKey("reports_api", ApiState)
PRINCIPAL = web.RequestKey("reports_principal", Principal)
AUDIT = web.RequestKey("reports_audit", AuditNote)


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str | None = None, current_version: int | None = None) -> None:
        super().__init__(detail or error)
        self.status, self.error, self.detail, self.current_version = status, error, detail, current_version


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no such case")


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=model.model_dump_json().encode(), status=status, content_type="application/json", headers=headers
    )


def _error(status: int, error: str, detail: str | None = None, **extra: Any) -> web.Response:
    headers = extra.pop("headers", None)
    return _json(ErrorOut(error=error, detail=detail, **extra), status, headers)


def _state(request: web.Request) -> tuple[ApiState, Deps]:
    state = request.app[API]
    if state.deps is None:
        raise ApiError(503, "starting", "the service is starting")
    return state, state.deps


def _principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def _client_ip(request: web.Request, trust_forwarded: bool) -> str | None:
    if trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return request.remote


# --- middleware: authentication, errors, audit --------------------------------------------------------------


@web.middleware
async def api_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    if not request.path.startswith(PREFIX + "/") and request.path != PREFIX:
        return await handler(request)
    note = AuditNote()
    request[AUDIT] = note
    state = request.app[API]
    principal: Principal | None = None
    started = time.perf_counter()
    try:
        if request.path != OPENAPI_PATH:
            if state.auth is None:
                raise ApiError(503, "starting", "the service is starting")
            principal = state.auth.authenticate(request.headers.get("Authorization"))
            request[PRINCIPAL] = principal
        response = await handler(request)
    except AuthError as exc:
        note.details["auth"] = str(exc)
        response = _error(
            401, "unauthorized", str(exc), headers={"WWW-Authenticate": 'Bearer realm="reports", error="invalid_token"'}
        )
    except ApiError as exc:
        response = _error(exc.status, exc.error, exc.detail, current_version=exc.current_version)
    except VersionConflict as exc:
        response = _error(409, "version_conflict", str(exc), current_version=exc.current)
    except InvalidTransition as exc:
        response = _error(409, "invalid_transition", str(exc))
    except InvalidInput as exc:
        response = _error(400, "invalid_input", str(exc))
    except web.HTTPException as exc:
        if exc.status >= 500:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = _error(exc.status, exc.reason.lower().replace(" ", "_"), headers=headers)
    except Exception as exc:
        log.exception("api call failed", extra={"route": _route(request), "error": type(exc).__name__})
        response = _error(500, "internal", "unexpected error")
    handled = time.perf_counter()
    if not await _write_audit(request, principal, note, response.status):
        return _error(503, "audit_unavailable", "the call could not be audited; try again")
    # Where the time went (W3C Server-Timing): the service's own work, and the audit write before replying.
    response.headers["Server-Timing"] = (
        f"app;dur={(handled - started) * 1000:.2f}, audit;dur={(time.perf_counter() - handled) * 1000:.2f}"
    )
    return response


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


async def _write_audit(request: web.Request, principal: Principal | None, note: AuditNote, status: int) -> bool:
    deps = request.app[API].deps
    if deps is None:
        return True  # nothing served yet (503 starting)
    entry = {
        "_id": new_id(),
        "at": ms(deps.clock()),
        "actor": principal.sub if principal else "anonymous",
        "role": principal.role if principal else None,
        "unit": principal.unit if principal else None,
        "ip": _client_ip(request, deps.settings.trust_forwarded_for),
        "method": request.method,
        "route": _route(request),
        "path": request.path[:300],
        "status": status,
        "action": note.action,
        "case_id": note.case_id,
        "case_ids": note.case_ids,
        "details": note.details,
    }
    try:
        await deps.store.audit(entry)
    except Exception as exc:
        deps.metrics.audit_failures.inc()
        log.error("audit write failed", extra={"error": type(exc).__name__, "route": entry["route"]})
        return False
    return True


# --- helpers ---------------------------------------------------------------------------------------------------


async def _body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "invalid_json", "the body is not JSON") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['type']}" for e in exc.errors())
        raise ApiError(400, "invalid_body", where[:500]) from exc


def _expected_version(request: web.Request, body_version: int | None) -> int | None:
    header = request.headers.get("If-Match")
    if header is not None:
        value = header.strip()
        if value == "*":
            return body_version
        value = value.removeprefix("W/").strip('"')
        if not value.isdigit() or int(value) < 1:
            raise ApiError(400, "invalid_if_match", 'If-Match takes the case version, e.g. "3"')
        header_version = int(value)
        if body_version is not None and body_version != header_version:
            raise ApiError(400, "version_mismatch", "If-Match and body version differ")
        return header_version
    return body_version


async def _visible_case(request: web.Request, ref: str) -> CaseView:
    """The case by id or code, if the caller may see it; otherwise 404 whether it exists or not."""
    _, deps = _state(request)
    principal = _principal(request)
    case_id: str | None = ref if _CASE_ID.match(ref) else None
    if case_id is None:
        code = parse_case_code(ref)
        case_id = await deps.store.case_id_for_code(code) if code else None
    doc = await deps.store.get_case(case_id) if case_id else None
    if doc is None:
        raise _not_found()
    case = CaseView(doc)
    if not principal.sees_unit(case.unit):
        raise _not_found()
    request[AUDIT].case_id = case.id
    return case


def _summary_out(s: CaseSummary) -> CaseSummaryOut:
    return CaseSummaryOut(
        id=s.id,
        code=s.code,
        status=s.status,  # type: ignore[arg-type]
        kind=s.kind,  # type: ignore[arg-type]
        category=s.category,
        priority=s.priority,  # type: ignore[arg-type]
        unit=s.unit,
        ward=s.ward,
        oa_key=s.oa_key,
        created_at=s.created_at,
        updated_at=s.updated_at,
        assignee=s.assignee,
        version=s.version,
        excerpt=s.excerpt,
        attachments=s.attachments,
    )


def _csv(request: web.Request, name: str) -> list[str] | None:
    values = [v.strip() for raw in request.query.getall(name, []) for v in raw.split(",") if v.strip()]
    return values or None


def _one_of(values: list[str] | None, allowed: frozenset[str] | tuple[str, ...], name: str) -> frozenset[str] | None:
    if values is None:
        return None
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ApiError(400, "invalid_query", f"{name}: unknown value")
    return frozenset(values)


def _time(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_query", f"{name}: ISO 8601 date or time expected") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=VN_TZ)  # officers write local time
    return at.timestamp()


def _limit(request: web.Request, default: int, maximum: int) -> int:
    raw = request.query.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid_query", f"limit: 1 to {maximum}")
    return int(raw)


async def _index_ready(deps: Deps) -> None:
    if deps.index.loaded.is_set():
        return
    try:
        await asyncio.wait_for(deps.index.loaded.wait(), deps.settings.index_load_timeout_s)
    except TimeoutError as exc:
        raise ApiError(503, "index_loading", "the case list is still loading") from exc


# --- routes ------------------------------------------------------------------------------------------------------


async def openapi_document(request: web.Request) -> web.Response:
    request[AUDIT].action = "openapi.read"
    return web.Response(body=request.app[API].openapi, content_type="application/json")


async def list_cases(request: web.Request) -> web.Response:
    _, deps = _state(request)
    principal = _principal(request)
    note = request[AUDIT]
    note.action = "case.list"
    known_units = frozenset(o.key for o in deps.registry.oas)
    units = _one_of(_csv(request, "unit"), known_units, "unit")
    if principal.role == "officer":
        if units is not None and units != {principal.unit}:
            raise ApiError(403, "forbidden", "officers list the cases of their own unit")
        units = frozenset({principal.unit or ""})
    priority = request.query.get("priority") or None
    if priority is not None and priority not in ("urgent", "normal"):
        raise ApiError(400, "invalid_query", "priority: urgent or normal")
    order = request.query.get("order") or "newest"
    if order not in ("newest", "urgent_first"):
        raise ApiError(400, "invalid_query", "order: newest or urgent_first")
    text = (request.query.get("q") or "")[:200]
    wards = _csv(request, "ward")
    flt = ListFilter(
        statuses=_one_of(_csv(request, "status"), STATUSES, "status"),
        kinds=_one_of(_csv(request, "kind"), ("crime", "public_order"), "kind"),
        units=units,
        wards=frozenset(fold(w) for w in wards) if wards else None,
        priority=priority,
        created_from=_time(request, "created_from"),
        created_to=_time(request, "created_to"),
        terms=tuple(fold(text).split()),
        assignee=request.query.get("assignee") or None,
    )
    raw_cursor = request.query.get("cursor")
    cursor: Cursor | None = decode_cursor(raw_cursor) if raw_cursor else None
    limit = _limit(request, deps.settings.list_default_limit, deps.settings.list_max_limit)
    await _index_ready(deps)
    items, nxt = deps.index.query(flt, order, cursor, limit)  # type: ignore[arg-type]
    note.case_ids = [s.id for s in items]
    note.details = {"query": request.query_string[:300]}
    body = CaseListOut(items=[_summary_out(s) for s in items], next_cursor=encode_cursor(nxt) if nxt else None)
    return _json(body)


async def get_case(request: web.Request) -> web.Response:
    _, deps = _state(request)
    request[AUDIT].action = "case.read"
    case = await _visible_case(request, request.match_info["case_ref"])
    history = await deps.store.changes_of(case.id, case.version)
    attachments = []
    for ref in case.get("attachments") or []:
        att = await deps.store.get_attachment(ref["id"])
        state = att.get("state", "pending") if att else "pending"
        attachments.append(
            AttachmentOut(
                id=ref["id"],
                media_type=ref.get("media_type", "image"),
                state=state,
                content_type=att.get("content_type") if att else None,
                size=att.get("size") if att else None,
                sha256=att.get("sha256") if att else None,
                attempts=int(att.get("attempts", 0)) if att else 0,
                href=f"{PREFIX}/cases/{case.id}/attachments/{ref['id']}" if state == "stored" else None,
            )
        )
    cur = case.current
    location = case.get("location")
    body = CaseDetailOut(
        id=case.id,
        code=case.code,
        status=cur["status"],
        status_reason=cur.get("status_reason"),
        kind=case["kind"],
        category=case["category"],
        priority=case["priority"],
        priority_reason=case.get("priority_reason"),
        source=case.get("source", "form"),
        unit=cur["unit"],
        route_rule=case.get("route_rule"),
        oa_key=case["oa_key"],
        ward=case.get("ward"),
        ward_named=case.get("ward_named"),
        description=case["description"],
        occurred_at_text=case.get("occurred_at_text"),
        place_text=case.get("place_text"),
        location=LocationOut(**location) if location else None,
        reporter=ReporterOut(
            anonymous=bool(case["anonymous"]), pseudonym=None if case["anonymous"] else case.get("pseudonym")
        ),
        assignee=cur.get("assignee"),
        created_at=case.created_at,
        updated_at=cur["updated_at"],
        acknowledged_at=cur.get("acknowledged_at"),
        closed_at=cur.get("closed_at"),
        version=case.version,
        attachments=attachments,
        history=[HistoryEntryOut(**changes.history_entry(c)) for c in history],
    )
    return _json(body, headers={"ETag": f'"{case.version}"'})


async def _change(request: web.Request, cmd: OfficerCommand, body_version: int | None, *, version_required: bool):
    _, deps = _state(request)
    principal = _principal(request)
    note = request[AUDIT]
    note.action = f"case.{cmd.action}"
    case = await _visible_case(request, request.match_info["case_ref"])
    if not principal.can_write:
        raise ApiError(403, "forbidden", "this role is read-only")
    expected = _expected_version(request, body_version)
    if version_required and expected is None:
        raise ApiError(428, "version_required", "send If-Match or `version` with the case version")
    producer = request.app[KIT].producer
    assert isinstance(producer, EventProducer)
    try:
        after, change = await changes.apply(deps, producer, case.id, principal, cmd, expected)
    except LookupError as exc:
        raise _not_found() from exc
    note.details = {"version": change["version"], "to_status": change["to_status"], "to_unit": change["to_unit"]}
    body = CaseStateOut(
        id=after.id,
        code=after.code,
        status=after.status,  # type: ignore[arg-type]
        unit=after.unit,
        assignee=after.assignee,
        version=after.version,
        updated_at=after.current["updated_at"],
        notice_id=change.get("notice_id"),
    )
    return _json(body, headers={"ETag": f'"{after.version}"'})


async def post_status(request: web.Request) -> web.Response:
    body = await _body(request, StatusChangeIn)
    return await _change(
        request, OfficerCommand("status", status=body.status, reason=body.reason), body.version, version_required=True
    )


async def post_transfer(request: web.Request) -> web.Response:
    body = await _body(request, TransferIn)
    return await _change(
        request, OfficerCommand("transfer", unit=body.unit, reason=body.reason), body.version, version_required=True
    )


async def post_assign(request: web.Request) -> web.Response:
    body = await _body(request, AssignIn)
    return await _change(request, OfficerCommand("assign", assignee=body.assignee), body.version, version_required=True)


async def post_note(request: web.Request) -> web.Response:
    body = await _body(request, NoteIn)
    return await _change(request, OfficerCommand("note", text=body.text), body.version, version_required=False)


async def post_reply(request: web.Request) -> web.Response:
    body = await _body(request, ReplyIn)
    return await _change(request, OfficerCommand("reply", text=body.text), body.version, version_required=False)


async def get_attachment(request: web.Request) -> web.Response:
    _, deps = _state(request)
    note = request[AUDIT]
    note.action = "attachment.read"
    case = await _visible_case(request, request.match_info["case_ref"])
    attachment_id = request.match_info["attachment_id"]
    note.details = {"attachment": attachment_id[:64]}
    if attachment_id not in {a["id"] for a in case.get("attachments") or []}:
        raise ApiError(404, "not_found", "no such attachment")
    att = await deps.store.get_attachment(attachment_id)
    if att is None or att.get("state") != "stored":
        raise ApiError(404, "not_stored", "the attachment is not stored (yet)")
    blob = await deps.store.get_blob(att["sha256"])
    if blob is None:
        raise ApiError(404, "not_stored", "the attachment is not stored")
    data = b"".join([chunk async for chunk in deps.store.blob_chunks(blob)])
    return web.Response(
        body=data,
        content_type=blob["content_type"],
        headers={
            "ETag": f'"{blob["_id"]}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": f'inline; filename="{attachment_id}"',
        },
    )


async def list_notices(request: web.Request) -> web.Response:
    _, deps = _state(request)
    principal = _principal(request)
    note = request[AUDIT]
    note.action = "notice.list"
    unit = request.query.get("unit") or None
    if principal.role == "officer":
        if unit is not None and unit != principal.unit:
            raise ApiError(403, "forbidden", "officers see the notices of their own unit")
        unit = principal.unit
    state_filter = _one_of(_csv(request, "state"), ("sent", "waiting", "retry"), "state")
    items = []
    for head, st in await notices.open_notices(deps, unit):
        if state_filter is not None and st.get("state") not in state_filter:
            continue
        items.append(
            NoticeOut(
                id=head["_id"],
                case_id=head["case_id"],
                case_code=head["case_code"],
                kind=head["kind"],
                unit=head["unit"],
                state=st["state"],
                attempt=int(st.get("attempt", 0)),
                created_at=head["created_at"],
                updated_at=st.get("at") or head["created_at"],
                reason=st.get("reason"),
                zalo_error=st.get("zalo_error"),
            )
        )
    note.case_ids = sorted({n.case_id for n in items})[:200]
    return _json(NoticeListOut(items=items))


async def list_handoffs(request: web.Request) -> web.Response:
    _, deps = _state(request)
    principal = _principal(request)
    request[AUDIT].action = "handoff.list"
    items = []
    for entry in await deps.store.open_handoffs():
        if not principal.sees_unit(entry["unit"]):
            continue
        doc = await deps.store.get_handoff(entry["_id"])
        if doc is None:
            continue
        items.append(
            HandoffOut(
                id=doc["_id"],
                oa_key=doc["oa_key"],
                unit=doc["unit"],
                pseudonym=doc["pseudonym"],
                requested_at=doc["requested_at"],
                reason=doc.get("reason"),
                by=doc["by"],
            )
        )
    items.sort(key=lambda h: h.requested_at, reverse=True)
    return _json(HandoffListOut(items=items))


async def release_handoff(request: web.Request) -> web.Response:
    _, deps = _state(request)
    principal = _principal(request)
    note = request[AUDIT]
    note.action = "handoff.release"
    handoff_id = request.match_info["handoff_id"]
    note.details = {"handoff": handoff_id[:64]}
    doc = await deps.store.get_handoff(handoff_id) if _CASE_ID.match(handoff_id) else None
    if doc is None or not principal.sees_unit(doc["unit"]):
        raise ApiError(404, "not_found", "no such handoff")
    if not principal.can_write:
        raise ApiError(403, "forbidden", "this role is read-only")
    claimed = await deps.store.claim_handoff_release(handoff_id, principal.sub, deps.clock())
    release = await deps.store.get_handoff_release(handoff_id)
    still_open = any(e["_id"] == handoff_id for e in await deps.store.open_handoffs())
    if not claimed and not still_open:
        raise ApiError(409, "already_released", "the conversation was handed back already")
    user_id = deps.cipher.open(doc["sealed_user"], f"handoff:{handoff_id}")
    event = HandoffEvent(
        event_id=derived_id("reports-handoff-release", handoff_id),
        occurred_at=release["at"] if release else deps.clock(),
        producer=PRODUCER_NAME,
        correlation_id=doc.get("correlation_id") or handoff_id,
        oa_id=doc["oa_id"],
        user_id=user_id,
        change="released",
        by=release["by"] if release else principal.sub,
        reason="officer",
    )
    producer = request.app[KIT].producer
    assert producer is not None
    await producer.publish(CONVERSATION_HANDOFFS, citizen_key(doc["oa_id"], user_id), event)
    await deps.store.close_handoff(handoff_id)
    return web.json_response({"id": handoff_id, "released": True})


async def list_audit(request: web.Request) -> web.Response:
    _, deps = _state(request)
    principal = _principal(request)
    note = request[AUDIT]
    note.action = "audit.read"
    if not principal.reads_audit:
        raise ApiError(403, "forbidden", "the audit log is for auditors")
    query: dict[str, Any] = {}
    for name in ("actor", "case_id", "action"):
        value = request.query.get(name)
        if value:
            query[name] = value[:200]
    before = None
    raw_cursor = request.query.get("cursor")
    if raw_cursor:
        c = decode_cursor(raw_cursor)
        before = (EPOCH + timedelta(milliseconds=int(c.created_ts)), c.case_id)
    limit = _limit(request, 50, 200)
    entries = await deps.store.audit_entries(query, limit + 1, before)
    items = [
        AuditEntryOut(
            id=e["_id"],
            at=e["at"],
            actor=e["actor"],
            role=e.get("role"),
            unit=e.get("unit"),
            ip=e.get("ip"),
            method=e.get("method"),
            route=e.get("route"),
            path=e.get("path"),
            status=e.get("status"),
            action=e["action"],
            case_id=e.get("case_id"),
            case_ids=e.get("case_ids") or [],
            details={k: v for k, v in (e.get("details") or {}).items() if isinstance(v, str | int | bool) or v is None},
        )
        for e in entries[:limit]
    ]
    nxt = None
    if len(entries) > limit and items:
        last = items[-1]
        millis = (last.at - EPOCH) // timedelta(milliseconds=1)
        nxt = encode_cursor(Cursor("newest", 1, float(millis), last.id))
    return _json(AuditListOut(items=items, next_cursor=nxt))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(OPENAPI_PATH, openapi_document)
    r.add_get(f"{PREFIX}/cases", list_cases)
    r.add_get(f"{PREFIX}/cases/{{case_ref}}", get_case)
    r.add_post(f"{PREFIX}/cases/{{case_ref}}/status", post_status)
    r.add_post(f"{PREFIX}/cases/{{case_ref}}/transfer", post_transfer)
    r.add_post(f"{PREFIX}/cases/{{case_ref}}/assign", post_assign)
    r.add_post(f"{PREFIX}/cases/{{case_ref}}/notes", post_note)
    r.add_post(f"{PREFIX}/cases/{{case_ref}}/replies", post_reply)
    r.add_get(f"{PREFIX}/cases/{{case_ref}}/attachments/{{attachment_id}}", get_attachment)
    r.add_get(f"{PREFIX}/notices", list_notices)
    r.add_get(f"{PREFIX}/handoffs", list_handoffs)
    r.add_post(f"{PREFIX}/handoffs/{{handoff_id}}/release", release_handoff)
    r.add_get(f"{PREFIX}/audit", list_audit)
