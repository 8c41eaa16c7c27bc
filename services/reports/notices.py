"""Notices to citizens (acknowledgement, status changes, officer replies) that must arrive exactly once.

A notice is an immutable head (case, kind, text, who) and a log of steps, each claimed by inserting
`notice_steps/<notice>:<step>` — the one atomic decision FerretDB offers. A step is a state:

    sent (attempt n, from OA x to user u) ──outcome──▶ delivered | failed            (final)
                                         └─────────▶ waiting   (window closed / unreachable)
                                         └─────────▶ retry     (transient; resent after a backoff)
    waiting ──the citizen writes to any OA of the district──▶ sent (attempt n+1, from that OA)

Attempt n is published as command `derived_id("reports-notice", notice, n)`: a redelivered cause
re-publishes the same command (the egress deduplicates it), and a new attempt only exists after the
outcome of the previous one said it did not arrive. So a notice is never lost (it stays open until
delivered) and never sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from contracts import Button, DeliveryOutcome, Message, OutboundCommand, ZaloEvent, citizen_key
from contracts.topics import ZALO_OUTBOUND
from servicekit.errors import RetryableError
from servicekit.ids import derived_id
from servicekit.logs import pii
from servicekit.producer import Outgoing
from services.reports.deps import PRODUCER_NAME, Deps
from services.reports.domain import (
    FINAL_NOTICE_STATES,
    NoticeKind,
    backoff_s,
    classify_outcome,
    window_state,
)
from services.reports.store import CaseView, Doc, ms, step_id_of

log = logging.getLogger("reports.notices")

State = dict[str, Any]
Decide = Callable[[Doc, State], State | None]


def notice_id_for(case_id: str, cause: str) -> str:
    return derived_id("reports-notice", case_id, cause)


def command_id_for(notice_id: str, attempt: int) -> str:
    return derived_id("reports-notice-command", notice_id, attempt)


def _user_context(notice_id: str) -> str:
    return f"notice:{notice_id}"


def _attempt(
    notice_id: str, attempt: int, oa_id: str, sealed_user: str, trigger: str, now: datetime, not_after: datetime | None
) -> State:
    return {
        "state": "sent",
        "attempt": attempt,
        "oa_id": oa_id,
        "sealed_user": sealed_user,
        "command_id": command_id_for(notice_id, attempt),
        "trigger": trigger,
        "at": ms(now),
        "not_after": not_after.isoformat() if not_after else None,
        "retries": 0,
    }


async def create(
    deps: Deps,
    case: CaseView,
    *,
    notice_id: str,
    kind: NoticeKind,
    text: str,
    trigger: str,
    citizen_doc: Doc | None = None,
    interaction_at: datetime | None = None,
) -> tuple[list[Outgoing], int | None]:
    """Create a notice and send its first attempt (or keep it waiting when the window is known closed).

    Idempotent: a second call with the same trigger re-publishes the same first command. A caller that
    has read the citizen already passes `citizen_doc` and then raises the `notices_n` hint itself with
    the returned position (intake does, in its one citizen write); `interaction_at` is an interaction
    the caller knows of that is not recorded yet.
    """
    store, now = deps.store, deps.clock()
    head = await store.get_notice(notice_id)
    position: int | None = None
    if head is None:
        own_read = citizen_doc is None
        if own_read:
            citizen_doc = await store.get_citizen(case.citizen)
        last_inbound = citizen_doc.get("last_inbound_at") if citizen_doc else None
        if interaction_at is not None and (last_inbound is None or interaction_at > last_inbound):
            last_inbound = interaction_at
        s = deps.settings
        window = window_state(last_inbound, now, s.interaction_window_s, s.window_margin_s)
        user_id = deps.cipher.open(case["reporter_sealed"], f"reporter:{case.id}")
        sealed_user = deps.cipher.seal(user_id, _user_context(notice_id))
        if window == "closed":
            first: State = {"state": "waiting", "attempt": 0, "trigger": trigger, "at": ms(now), "reason": "window"}
        else:
            not_after = last_inbound + timedelta(seconds=s.interaction_window_s) if last_inbound else None
            first = _attempt(notice_id, 1, case.oa_id, sealed_user, trigger, now, not_after)
        hint = int(citizen_doc.get("notices_n", 0)) if citizen_doc else 0
        step = {"_id": step_id_of(notice_id, 1), "notice_id": notice_id, "step": 1, "at": ms(now), "state": first}
        _, position, claimed = await asyncio.gather(
            store.mark_notice_open(notice_id, case.unit, case.id, now),
            store.add_citizen_item(case.citizen, "notices", notice_id, hint=hint, raise_hint=own_read),
            store.claim_notice_step(step),
        )
        if not claimed:
            existing = await store.get_notice_step(notice_id, 1)
            first = existing["state"] if existing else first
        head = {
            "_id": notice_id,
            "case_id": case.id,
            "case_code": case.code,
            "kind": kind,
            "text": text,
            "unit": case.unit,
            "citizen": case.citizen,
            "oa_id": case.oa_id,
            "sealed_user": sealed_user,
            "urgent": case["priority"] == "urgent",
            "correlation_id": case.get("correlation_id") or case.id,
            "created_at": ms(now),
            "step": 1,
            "current": first,
        }
        if await store.insert_notice(head):
            if first["state"] == "sent" and first.get("trigger") == trigger:
                deps.metrics.notices_sent.labels(kind, "first").inc()
            return _commands_for(deps, head, first, trigger), position
        head = await store.get_notice(notice_id)
        if head is None:
            raise RetryableError("notice vanished after insert")
    _, state = await current(deps, head)
    return _commands_for(deps, head, state, trigger), position


async def current(deps: Deps, head: Doc) -> tuple[int, State]:
    """The newest step of a notice (the head caches it; a newer claimed step wins)."""
    newest = await deps.store.newest_notice_step(head["_id"], int(head["step"]))
    if newest is None:
        return int(head["step"]), head["current"]
    return int(newest["step"]), newest["state"]


async def _advance(deps: Deps, notice_id: str, decide: Decide) -> tuple[Doc, State] | None:
    """Claim the next step decided from the current one; re-decide when another writer got there first."""
    store = deps.store
    for _ in range(20):
        head = await store.get_notice(notice_id)
        if head is None:
            return None
        k, state = await current(deps, head)
        new = decide(head, state)
        if new is None:
            return head, state
        step = {
            "_id": step_id_of(notice_id, k + 1),
            "notice_id": notice_id,
            "step": k + 1,
            "at": ms(deps.clock()),
            "state": new,
        }
        if await store.claim_notice_step(step):
            await store.refresh_notice(notice_id)
            if new["state"] in FINAL_NOTICE_STATES:
                await store.mark_notice_closed(notice_id)
            return head, new
    raise RetryableError("notice step contended")


def _commands_for(deps: Deps, head: Doc, state: State, trigger: str) -> list[Outgoing]:
    if state.get("state") != "sent" or state.get("trigger") != trigger:
        return []
    return [command(deps, head, state)]


def command(deps: Deps, head: Doc, state: State) -> Outgoing:
    """The outbound command of the attempt in `state` (same id every time it is built)."""
    user_id = deps.cipher.open(state["sealed_user"], _user_context(head["_id"]))
    buttons = [Button(title="Gọi 113", kind="phone", payload="113")] if head["kind"] == "ack" and head["urgent"] else []
    cmd = OutboundCommand(
        event_id=state["command_id"],
        occurred_at=state["at"],
        producer=PRODUCER_NAME,
        correlation_id=head["correlation_id"],
        command_id=state["command_id"],
        oa_id=state["oa_id"],
        user_id=user_id,
        action="send",
        message_type="cs",
        lane="notice",
        message=Message(text=head["text"], buttons=buttons),
        not_after=state.get("not_after"),
        context={"notice_id": head["_id"], "case_id": head["case_id"], "attempt": str(state["attempt"])},
    )
    return Outgoing(ZALO_OUTBOUND, citizen_key(state["oa_id"], user_id), cmd)


async def on_outcome(deps: Deps, outcome: DeliveryOutcome) -> None:
    """Move the attempt the outcome is about to delivered, waiting, retry or failed."""
    notice_id = outcome.context.get("notice_id")
    if not notice_id:
        return
    try:
        attempt = int(outcome.context.get("attempt", "0"))
    except ValueError:
        return
    klass = classify_outcome(outcome.status, outcome.reason, outcome.zalo_error, outcome.retryable)
    now = deps.clock()
    s = deps.settings
    changed: list[str] = []

    def decide(_: Doc, state: State) -> State | None:
        if state.get("state") != "sent" or state.get("attempt") != attempt:
            return None  # a stale or repeated outcome
        if state.get("command_id") != outcome.command_id:
            return None
        new: State = {
            **state,
            "state": klass,
            "reason": outcome.reason,
            "zalo_error": outcome.zalo_error,
            "at": ms(now),
            "trigger": f"outcome:{outcome.event_id}",
        }
        if klass == "retry":
            retries = int(state.get("retries", 0)) + 1
            if retries > s.notice_max_retries:
                new["state"] = "waiting"
            else:
                delay = backoff_s(retries, s.notice_retry_backoff_s, 3600.0, deps.rng())
                new["retries"], new["retry_at"] = retries, ms(now + timedelta(seconds=delay))
        changed.append(new["state"])
        return new

    await _advance(deps, notice_id, decide)
    if changed:
        deps.metrics.notice_outcomes.labels(changed[-1]).inc()
        log.info("notice outcome", extra={"notice": notice_id, "state": changed[-1], "zalo_error": outcome.zalo_error})


async def on_interaction(deps: Deps, event: ZaloEvent, linked: Mapping[str, Doc | None]) -> list[Outgoing]:
    """The citizen wrote to an OA of the district: deliver every notice waiting for them, from that OA.

    `linked`: the citizen and the same person's citizens of other OAs, with their documents where the
    caller has them already (None: read here)."""
    assert event.user_id is not None
    s, store = deps.settings, deps.store
    now = deps.clock()
    if window_state(event.occurred_at, now, s.interaction_window_s, s.window_margin_s) == "closed":
        return []  # a replay of an old event opens nothing
    trigger = f"event:{event.event_id}"
    not_after = event.occurred_at + timedelta(seconds=s.interaction_window_s)
    out: list[Outgoing] = []
    for c in sorted(linked):
        doc = linked[c] if linked[c] is not None else await store.get_citizen(c)
        start = int(doc.get("notices_from", 1)) if doc else 1
        items = await store.citizen_items_of(c, "notices", start)
        lowest_open: int | None = None
        for position, notice_id in items:
            sealed = deps.cipher.seal(event.user_id, _user_context(notice_id))

            def decide(_: Doc, state: State, notice_id: str = notice_id, sealed: str = sealed) -> State | None:
                if state.get("state") not in ("waiting", "retry"):
                    return None
                nxt = int(state.get("attempt", 0)) + 1
                return _attempt(notice_id, nxt, event.oa_id, sealed, trigger, now, not_after)

            result = await _advance(deps, notice_id, decide)
            if result is None:
                continue
            head, state = result
            commands = _commands_for(deps, head, state, trigger)
            if commands:
                deps.metrics.notices_sent.labels(head["kind"], "interaction").inc()
                log.info(
                    "waiting notice sent on interaction",
                    extra={"notice": notice_id, "oa": event.oa_key, "user": pii(event.user_id)},
                )
            out.extend(commands)
            if state.get("state") not in FINAL_NOTICE_STATES and lowest_open is None:
                lowest_open = position
        if items:
            new_from = lowest_open if lowest_open is not None else items[-1][0] + 1
            if new_from > start:
                await store.raise_citizen_hint(c, "notices_from", new_from)
    return out


async def sweep(deps: Deps) -> list[Outgoing]:
    """Background duty: resend due retries, re-publish attempts that never got an outcome, close finals."""
    s, store = deps.settings, deps.store
    now = deps.clock()
    out: list[Outgoing] = []
    for head in await store.notice_heads(await store.open_notice_ids()):
        cached = head["current"]
        name = cached.get("state")
        # Act only on what the head's cache says may need it (its writers keep it current); probe then.
        stale_send = name == "sent" and now - cached["at"] > timedelta(seconds=s.notice_resend_after_s)
        retry_due = name == "retry" and cached.get("retry_at") is not None and cached["retry_at"] <= now
        if not (stale_send or retry_due or name in FINAL_NOTICE_STATES):
            continue
        _, state = await current(deps, head)
        name = state.get("state")
        if name in FINAL_NOTICE_STATES:
            await store.mark_notice_closed(head["_id"])
        elif name == "sent" and now - state["at"] > timedelta(seconds=s.notice_resend_after_s):
            out.append(command(deps, head, state))  # same command id: the egress sends it at most once
        elif name == "retry" and state.get("retry_at") is not None and state["retry_at"] <= now:
            out.extend(await _resend_retry(deps, head["_id"], now))
    return out


async def _resend_retry(deps: Deps, notice_id: str, now: datetime) -> list[Outgoing]:
    """A retry is due: resend from the same OA if the citizen's window is still open, else wait."""
    s, store = deps.settings, deps.store
    head = await store.get_notice(notice_id)
    if head is None:
        return []
    _, state = await current(deps, head)
    if state.get("state") != "retry":
        return []
    user_id = deps.cipher.open(state["sealed_user"], _user_context(notice_id))
    citizen = await store.get_citizen(deps.citizens.citizen(state["oa_id"], user_id))
    last_inbound = citizen.get("last_inbound_at") if citizen else None
    window_open = window_state(last_inbound, now, s.interaction_window_s, s.window_margin_s) != "closed"
    nxt = int(state.get("attempt", 0)) + 1
    trigger = f"retry:{notice_id}:{nxt}"

    def decide(_: Doc, st: State) -> State | None:
        if st.get("state") != "retry" or int(st.get("attempt", 0)) + 1 != nxt:
            return None
        if not window_open:
            return {**st, "state": "waiting", "at": ms(now), "trigger": trigger, "reason": "window"}
        return {
            **_attempt(notice_id, nxt, st["oa_id"], st["sealed_user"], trigger, now, None),
            "retries": st.get("retries", 0),
            "not_after": st.get("not_after"),
        }

    result = await _advance(deps, notice_id, decide)
    if result is None:
        return []
    head, state = result
    commands = _commands_for(deps, head, state, trigger)
    if commands:
        deps.metrics.notices_sent.labels(head["kind"], "retry").inc()
    return commands


async def open_notices(deps: Deps, unit: str | None) -> list[tuple[Doc, State]]:
    """Notices not yet delivered (officers see which citizens have not been told yet), newest first.

    States come from the heads' cache, which every writer refreshes after claiming a step.
    """
    out = []
    for head in await deps.store.notice_heads(await deps.store.open_notice_ids()):
        if unit is not None and head["unit"] != unit:
            continue
        state = head["current"]
        if state.get("state") in FINAL_NOTICE_STATES:
            continue
        out.append((head, state))
    out.sort(key=lambda hs: hs[0]["created_at"], reverse=True)
    return out
