"""Handlers of the topics the reports service consumes: plain async functions `(event, deps) -> list[Outgoing]`,
registered in HANDLERS at the bottom. The kit's loop publishes what they return, then marks the event
handled; every id they produce is derived from the event, so a redelivery publishes the same records."""

from __future__ import annotations

import asyncio
import logging

from contracts import (
    DeliveryOutcome,
    HandoffEvent,
    Message,
    OutboundCommand,
    ReportSubmitted,
    StatusRequested,
    ZaloEvent,
    citizen_key,
)
from contracts.topics import (
    CONVERSATION_HANDOFFS,
    REPORTS_STATUS_REQUESTS,
    REPORTS_SUBMITTED,
    ZALO_DELIVERY,
    ZALO_EVENTS,
    ZALO_OUTBOUND,
)
from servicekit.consumer import Filtered
from servicekit.errors import PermanentError, RetryableError
from servicekit.ids import derived_id
from servicekit.logs import pii
from servicekit.producer import Outgoing
from servicekit.registry import OfficialAccount
from services.reports import notices, texts
from services.reports.caseindex import save_summary
from services.reports.changes import lifecycle
from services.reports.deps import PRODUCER_NAME, Deps
from services.reports.domain import (
    ReportFacts,
    case_year,
    format_case_code,
    parse_case_code,
    priority_of,
    route,
)
from services.reports.store import CaseView, Doc, change_id_of, ms

log = logging.getLogger("reports.handlers")

RECENT_CASES_IN_ANSWER = 5


def case_id_for(submission_id: str) -> str:
    return derived_id("reports-case", submission_id)


async def on_report_submitted(event: ReportSubmitted, deps: Deps) -> list[Outgoing]:
    """One case per submission (idempotent), its attachments queued, the citizen acknowledged."""
    oa = deps.registry.by_id(event.oa_id)
    if oa is None:
        raise PermanentError("report for an OA that is not in the registry")
    store = deps.store
    case_id = case_id_for(event.submission_id)
    citizen = deps.citizens.citizen(event.oa_id, event.user_id)
    doc = await store.get_case(case_id)
    first: Doc | None = None
    if doc is None:
        doc, first = await _create_case(deps, event, oa, case_id, citizen)
    else:
        deps.metrics.duplicate_submissions.inc()
    case = CaseView(doc)
    now = deps.clock()
    # Independent writes go out together: FerretDB serves concurrent requests better than a chain of them.
    attachments = [
        store.add_attachment(
            {
                "_id": derived_id("reports-attachment", case.id, position),
                "case_id": case.id,
                "position": position,
                "url": att.url,
                "media_type": att.media_type,
                "state": "pending",
                "attempts": 0,
                "registered_at": ms(now),
            },
            now,
        )
        for position, att in enumerate(event.attachments)
    ]
    audit = store.audit(
        {
            "_id": derived_id("reports-audit-intake", case.id),
            "at": ms(now),
            "actor": "system",
            "role": "system",
            "action": "case.create",
            "case_id": case.id,
            "details": {"unit": case.unit, "rule": doc.get("route_rule"), "priority": doc["priority"]},
        }
    )
    citizen_doc, summary, *_ = await asyncio.gather(
        store.get_citizen(citizen), save_summary(store, doc), audit, *attachments
    )
    deps.index.apply(summary)
    if event.attachments:
        deps.attachments_wakeup.set()
    # One read and one write of the citizen: the submission is an interaction, the case and its
    # acknowledgement join the citizen's lists.
    citizen_doc = citizen_doc or {}
    cases_n, (ack, notices_n) = await asyncio.gather(
        store.add_citizen_item(citizen, "cases", case.id, hint=int(citizen_doc.get("cases_n", 0)), raise_hint=False),
        notices.create(
            deps,
            case,
            notice_id=notices.notice_id_for(case.id, "ack"),
            kind="ack",
            text=texts.ack(
                case.code, case["kind"], deps.unit_name(case.unit), case["anonymous"], doc["priority"] == "urgent"
            ),
            trigger=f"intake:{case.id}",
            citizen_doc=citizen_doc,
            interaction_at=event.occurred_at,
        ),
    )
    hints = {"cases_n": cases_n} | ({"notices_n": notices_n} if notices_n else {})
    await store.touch_citizen(citizen, event.oa_id, event.occurred_at, hints=hints)
    if first is None:
        first = await store.get_change(case.id, 1)
        if first is None:
            raise RetryableError("the case's first version is missing")
    return [*ack, lifecycle(case, first)]


async def _create_case(
    deps: Deps, event: ReportSubmitted, oa: OfficialAccount, case_id: str, citizen: str
) -> tuple[Doc, Doc | None]:
    facts = ReportFacts(
        kind=event.kind,
        category=event.category,
        ward=event.ward,
        source=event.source,
        urgent=event.urgent,
        description=event.description,
        occurred_at_text=event.occurred_at_text,
    )
    decision = route(deps.rules, deps.registry, oa, facts)
    priority, priority_reason = priority_of(deps.rules.urgent, facts)
    year = case_year(event.occurred_at)
    code, serial = await deps.store.claim_code(
        f"{oa.key}:{year:02d}", lambda n: format_case_code(oa.case_prefix, year, n), case_id
    )
    now = ms(deps.clock())
    current: Doc = {
        "status": "received",
        "unit": decision.unit,
        "assignee": None,
        "status_reason": None,
        "acknowledged_at": None,
        "closed_at": None,
        "updated_at": now,
    }
    doc: Doc = {
        "_id": case_id,
        "submission_id": event.submission_id,
        "code": code,
        "serial": serial,
        "oa_id": oa.oa_id,
        "oa_key": oa.key,
        "kind": event.kind,
        "category": event.category,
        "description": event.description,
        "occurred_at_text": event.occurred_at_text,
        "place_text": event.place_text,
        "ward": decision.ward,
        "ward_named": event.ward,
        "location": event.location.model_dump() if event.location else None,
        "source": event.source,
        "urgent_flag": event.urgent,
        "priority": priority,
        "priority_reason": priority_reason,
        "route_rule": decision.rule,
        "anonymous": event.anonymous,
        "reporter_sealed": deps.cipher.seal(event.user_id, f"reporter:{case_id}"),
        "pseudonym": None if event.anonymous else deps.citizens.pseudonym(event.oa_id, event.user_id),
        "citizen": citizen,
        "attachments": [
            {"id": derived_id("reports-attachment", case_id, i), "media_type": a.media_type}
            for i, a in enumerate(event.attachments)
        ],
        "submitted_at": ms(event.occurred_at),
        "created_at": now,
        "correlation_id": event.correlation_id,
        "version": 1,
        "current": current,
    }
    first_change: Doc = {
        "_id": change_id_of(case_id, 1),
        "case_id": case_id,
        "version": 1,
        "change_id": derived_id("reports-created", case_id),
        "at": now,
        "actor": "system",
        "actor_role": "system",
        "change": "created",
        "from_status": None,
        "to_status": "received",
        "from_unit": None,
        "to_unit": decision.unit,
        "reason": f"routing rule {decision.rule}",
        "snapshot": current,
    }
    if await deps.store.insert_case(doc, first_change):
        deps.metrics.cases_created.labels(event.kind, decision.unit, priority).inc()
        log.info(
            "case created",
            extra={"case": case_id, "code": code, "unit": decision.unit, "priority": priority, "oa": oa.key},
        )
        return doc, first_change
    existing = await deps.store.get_case(case_id)
    if existing is None:
        raise RetryableError("case insert raced and the winner is not visible yet")
    return existing, None


async def on_status_requested(event: StatusRequested, deps: Deps) -> list[Outgoing]:
    """Answer only the citizen who filed the case; anyone else gets the "not found" of a missing code."""
    if deps.registry.by_id(event.oa_id) is None:
        return []
    store = deps.store
    citizen = deps.citizens.citizen(event.oa_id, event.user_id)
    await store.touch_citizen(citizen, event.oa_id, event.occurred_at)
    if event.case_code:
        code = parse_case_code(event.case_code) or event.case_code.strip().upper()[:40]
        case_id = await store.case_id_for_code(code)
        # Read a case either way, so a foreign code costs what a missing one does.
        doc = await store.get_case(case_id or derived_id("reports-no-case", code))
        if doc is not None and doc["citizen"] == citizen:
            case = CaseView(doc)
            text = texts.status_answer(
                case.code,
                case["kind"],
                case.created_at,
                case.status,
                deps.unit_name(case.unit),
                case.current.get("status_reason"),
            )
            outcome = "found"
        else:
            text, outcome = texts.status_not_found(code), "not_found"
    else:
        items = await store.citizen_items_of(citizen, "cases")
        recent = []
        for _, case_id in items[-RECENT_CASES_IN_ANSWER:]:
            doc = await store.get_case(case_id)
            if doc is not None and doc["citizen"] == citizen:
                recent.append(CaseView(doc))
        recent.sort(key=lambda c: c.created_at, reverse=True)
        text = texts.status_list([(c.code, c.created_at, c.status) for c in recent])
        outcome = "list"
    deps.metrics.status_requests.labels(outcome).inc()
    log.info("status request answered", extra={"outcome": outcome, "user": pii(event.user_id)})
    command_id = derived_id("reports-status-answer", event.event_id)
    command = OutboundCommand(
        event_id=command_id,
        occurred_at=deps.clock(),
        producer=PRODUCER_NAME,
        correlation_id=event.correlation_id,
        command_id=command_id,
        oa_id=event.oa_id,
        user_id=event.user_id,
        action="send",
        message_type="cs",
        lane="conversation",
        message=Message(text=text),
        context={"status_request": event.event_id},
    )
    return [Outgoing(ZALO_OUTBOUND, citizen_key(event.oa_id, event.user_id), command)]


async def on_zalo_event(event: ZaloEvent, deps: Deps) -> list[Outgoing]:
    """The citizen did something: their window reopens; deliver the notices that waited for it."""
    if event.direction != "inbound" or not event.user_id or deps.registry.by_id(event.oa_id) is None:
        return []
    raw_app_user = event.raw.get("user_id_by_app")
    app_user = deps.citizens.app_user(str(raw_app_user)) if raw_app_user else None
    citizen = deps.citizens.citizen(event.oa_id, event.user_id)
    written = await deps.store.touch_citizen(citizen, event.oa_id, event.occurred_at, app_user)
    linked = await deps.store.link_app_user(app_user, citizen) if app_user is not None else []
    return await notices.on_interaction(deps, event, {citizen: written} | dict.fromkeys(set(linked) - {citizen}))


async def on_delivery(event: DeliveryOutcome, deps: Deps) -> list[Outgoing]:
    """Outcomes of our notices move them on (other producers' outcomes are ignored)."""
    if event.action == "send" and event.context.get("notice_id"):
        await notices.on_outcome(deps, event)
    return []


async def on_handoff(event: HandoffEvent, deps: Deps) -> list[Outgoing]:
    """Record requests for an officer so officers see them; a release (by anyone) closes them."""
    oa = deps.registry.by_id(event.oa_id)
    if oa is None:
        return []
    store = deps.store
    citizen = deps.citizens.citizen(event.oa_id, event.user_id)
    if event.change == "requested":
        handoff_id = derived_id("reports-handoff", event.event_id)
        await store.add_handoff(
            {
                "_id": handoff_id,
                "oa_id": oa.oa_id,
                "oa_key": oa.key,
                "unit": oa.report_unit,
                "citizen": citizen,
                "sealed_user": deps.cipher.seal(event.user_id, f"handoff:{handoff_id}"),
                "pseudonym": deps.citizens.pseudonym(event.oa_id, event.user_id),
                "requested_at": ms(event.occurred_at),
                "reason": event.reason,
                "by": event.by,
                "correlation_id": event.correlation_id,
            }
        )
        return []
    for entry in await store.open_handoffs():
        if entry.get("citizen") == citizen:
            await store.claim_handoff_release(entry["_id"], event.by, event.occurred_at)
            await store.close_handoff(entry["_id"])
    return []


HANDLERS = {
    REPORTS_SUBMITTED: on_report_submitted,
    REPORTS_STATUS_REQUESTS: on_status_requested,
    ZALO_EVENTS: Filtered(on_zalo_event, lambda e: e.direction == "inbound"),
    ZALO_DELIVERY: Filtered(on_delivery, lambda o: o.action == "send" and bool(o.context.get("notice_id"))),
    CONVERSATION_HANDOFFS: on_handoff,
}
