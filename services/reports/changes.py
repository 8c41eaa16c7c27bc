"""Officer changes of a case (status, transfer, assignment, notes, replies) and their publication.

A change is decided by the pure state machine, then made durable in this order:
1. an outbox entry (the intent to publish),
2. the claim of the next version (`case_changes/<case>:<version>`, insert-only: of two concurrent
   changes on the same version exactly one wins, the other gets 409),
3. the case head is refreshed, the notice (if any) is created, the lifecycle record and the notice's
   command are published, and the outbox entry is deleted.
A crash after 2 leaves the outbox entry: the sweeper finds the claimed version and finishes 3 with the
same deterministic ids. An entry whose version was never claimed is dropped after a while.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import CaseLifecycle
from contracts.topics import REPORTS_LIFECYCLE
from servicekit.ids import derived_id, new_id
from servicekit.producer import EventProducer, Outgoing
from services.reports import domain, notices, texts
from services.reports.auth import Principal
from services.reports.caseindex import save_summary
from services.reports.deps import PRODUCER_NAME, Deps
from services.reports.domain import Change, InvalidTransition
from services.reports.store import CaseView, Doc, change_id_of, ms

log = logging.getLogger("reports.changes")


class VersionConflict(Exception):
    """The client's version is not the case's current version (HTTP 409)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the case is at version {current}")
        self.current = current


@dataclass(frozen=True)
class OfficerCommand:
    """What an officer asks for."""

    action: str  # status, transfer, assign, note, reply
    status: str | None = None
    unit: str | None = None
    assignee: str | None = None
    reason: str | None = None
    text: str | None = None


def decide(case: CaseView, cmd: OfficerCommand, known_units: frozenset[str]) -> Change:
    state = domain.CaseState(case.status, case.unit, case.version, case.assignee)  # type: ignore[arg-type]
    if cmd.action == "status":
        return domain.change_status(state, cmd.status, cmd.reason)  # type: ignore[arg-type]
    if cmd.action == "transfer":
        return domain.transfer(state, cmd.unit or "", known_units, cmd.reason)
    if cmd.action == "assign":
        return domain.assign(state, cmd.assignee or "")
    if cmd.action == "note":
        return domain.note(state)
    if cmd.action == "reply":
        return domain.reply(state)
    raise domain.InvalidInput(f"unknown action {cmd.action}")


def snapshot_after(case: CaseView, change: Change, now: datetime) -> Doc:
    current = dict(case.current)
    current.update(status=change.to_status, unit=change.to_unit, assignee=change.assignee, updated_at=ms(now))
    if change.to_status != change.from_status and change.to_status in ("rejected", "resolved"):
        current["status_reason"] = change.reason
        current["closed_at"] = ms(now)
    if change.to_status == "acknowledged" and not current.get("acknowledged_at"):
        current["acknowledged_at"] = ms(now)
    return current


async def apply(
    deps: Deps,
    producer: EventProducer,
    case_id: str,
    principal: Principal,
    cmd: OfficerCommand,
    expected_version: int | None,
) -> tuple[CaseView, Doc]:
    """Apply one officer command; returns the case after it and the claimed change."""
    store = deps.store
    known_units = frozenset(o.key for o in deps.registry.oas)
    for _ in range(5):
        doc = await store.get_case(case_id)
        if doc is None:
            raise LookupError(case_id)
        case = CaseView(doc)
        if not principal.sees_unit(case.unit):
            raise LookupError(case_id)  # moved to another unit meanwhile: as if it did not exist
        if expected_version is not None and expected_version != case.version:
            raise VersionConflict(case.version)
        change = decide(case, cmd, known_units)
        now = deps.clock()
        version = case.version + 1
        change_id = new_id()
        notice_id = notices.notice_id_for(case.id, f"v{version}") if change.notice else None
        change_doc: Doc = {
            "_id": change_id_of(case.id, version),
            "case_id": case.id,
            "version": version,
            "change_id": change_id,
            "at": ms(now),
            "actor": principal.sub,
            "actor_role": principal.role,
            "actor_unit": principal.unit,
            "change": change.kind,
            "from_status": change.from_status,
            "to_status": change.to_status,
            "from_unit": change.from_unit,
            "to_unit": change.to_unit,
            "assignee": change.assignee,
            "reason": change.reason,
            "note": cmd.text if cmd.action == "note" else None,
            "reply": cmd.text if cmd.action == "reply" else None,
            "notice_kind": change.notice,
            "notice_id": notice_id,
            "snapshot": snapshot_after(case, change, now),
        }
        await store.put_outbox({"_id": change_id, "case_id": case.id, "version": version, "created_at": ms(now)})
        if not await store.claim_change(change_doc):
            await store.delete_outbox(change_id)
            if expected_version is not None:
                latest = await store.get_case(case_id)
                raise VersionConflict(latest["version"] if latest else version)
            continue  # no version asked for (a note, a reply): decide again on the newer version
        after = await publish_change(deps, producer, change_doc)
        deps.metrics.transitions.labels(change.kind, change.to_status).inc()
        if change.to_status == "acknowledged" and change.from_status == "received":
            waited = (now - case.created_at).total_seconds()
            deps.metrics.time_to_ack.labels(case["priority"]).observe(max(0.0, waited))
        return after, change_doc
    raise InvalidTransition("the case is changing too fast; try again")


async def publish_change(deps: Deps, producer: EventProducer, change_doc: Doc) -> CaseView:
    """Step 3 of a claimed change: refresh the head, create the notice, publish, drop the outbox entry."""
    store = deps.store
    await store.refresh_case(change_doc["case_id"])
    doc = await store.get_case(change_doc["case_id"])
    if doc is None:
        raise LookupError(change_doc["case_id"])
    deps.index.apply(await save_summary(store, doc))
    case = CaseView(doc)
    try:
        outgoing = await outgoing_of_change(deps, case, change_doc)
        await producer.publish_all(outgoing)
        await store.delete_outbox(change_doc["change_id"])
    except Exception as exc:  # the sweeper publishes it later with the same ids
        log.warning("change not published yet", extra={"case": case.id, "error": type(exc).__name__})
    return case


async def outgoing_of_change(deps: Deps, case: CaseView, change_doc: Doc) -> list[Outgoing]:
    out: list[Outgoing] = [lifecycle(case, change_doc)]
    kind = change_doc.get("notice_kind")
    if kind:
        unit_name = deps.unit_name(change_doc["snapshot"]["unit"])
        if kind == "reply":
            text = texts.officer_reply(case.code, change_doc["reply"] or "")
        else:
            text = texts.status_notice(kind, case.code, unit_name, change_doc.get("reason"))
        commands, _ = await notices.create(
            deps,
            case,
            notice_id=change_doc["notice_id"],
            kind=kind,
            text=text,
            trigger=f"change:{change_doc['change_id']}",
        )
        out.extend(commands)
    return out


def lifecycle(case: CaseView, change: Doc) -> Outgoing:
    """The lifecycle record of one version (keyed by case: it carries no citizen identity)."""
    snap = change["snapshot"]
    event = CaseLifecycle(
        event_id=derived_id("reports-lifecycle", case.id, change["version"]),
        occurred_at=change["at"],
        producer=PRODUCER_NAME,
        correlation_id=case.get("correlation_id") or case.id,
        case_id=case.id,
        case_code=case.code,
        oa_id=case.oa_id,
        change=change["change"],
        status=snap["status"],
        unit=snap["unit"],
        ward=case.get("ward"),
        kind=case["kind"],
        category=case["category"],
        priority=case["priority"],
        actor=change["actor"],
        version=change["version"],
    )
    return Outgoing(REPORTS_LIFECYCLE, case.id, event)


async def sweep_outbox(deps: Deps, producer: EventProducer) -> int:
    """Finish changes whose publication was interrupted; drop intents that never claimed a version."""
    s, store = deps.settings, deps.store
    now = deps.clock()
    finished = 0
    for entry in await store.outbox_entries():
        age = (now - entry["created_at"]).total_seconds()
        if age < s.outbox_grace_s:
            continue
        change = await store.get_change(entry["case_id"], int(entry["version"]))
        if change is None or change.get("change_id") != entry["_id"]:
            if change is not None or age > s.outbox_abandon_s:
                await store.delete_outbox(entry["_id"])
            continue
        await publish_change(deps, producer, change)
        finished += 1
    return finished


def history_entry(change: Doc) -> dict[str, Any]:
    """One version as officers see it (API)."""
    return {
        "version": change["version"],
        "at": change["at"],
        "actor": change["actor"],
        "actor_role": change.get("actor_role"),
        "change": change["change"],
        "from_status": change.get("from_status"),
        "to_status": change.get("to_status"),
        "from_unit": change.get("from_unit"),
        "to_unit": change.get("to_unit"),
        "assignee": change.get("assignee"),
        "reason": change.get("reason"),
        "note": change.get("note"),
        "reply": change.get("reply"),
        "notice_id": change.get("notice_id"),
    }
