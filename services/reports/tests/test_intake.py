"""Intake on real Kafka and FerretDB: idempotency, codes, routing, priority, acknowledgement."""

from __future__ import annotations

import asyncio

import pytest

from contracts.topics import REPORTS_SUBMITTED
from servicekit.testing import poll_until
from services.reports.domain import case_year
from services.reports.handlers import case_id_for
from services.reports.store import Store
from services.reports.tests.support import submission

pytestmark = pytest.mark.integration


async def test_a_duplicate_submission_makes_one_case_and_one_acknowledgement(reports):
    sub = submission()
    again = sub.model_copy(update={"event_id": sub.event_id + "-again"})  # the intent service sent it twice
    await reports.submit(sub)
    await reports.submit(again)
    await reports.submit(sub)  # and Kafka redelivered it
    await reports.case_of(sub)
    await poll_until(
        lambda: _async(reports.metric("zan_reports_duplicate_submissions_total") >= 1), "the duplicate to be handled"
    )
    assert await reports.db.cases.count_documents({"submission_id": sub.submission_id}) == 1
    assert await reports.db.case_codes.count_documents({}) == 1
    acks = await reports.acks_for(sub.user_id)
    assert len({c.command_id for c in acks}) == 1, "the same acknowledgement, never a second one"
    created = reports.lifecycle.matching(lambda e: e.case_id == case_id_for(sub.submission_id))
    assert len({e.event_id for e in created}) == 1


async def test_concurrent_intake_gives_unique_sequential_codes(reports):
    subs = [submission("tanphu") for _ in range(24)]
    await asyncio.gather(*(reports.submit(s) for s in subs))
    yy = case_year(subs[0].occurred_at)

    async def all_cases():
        docs = await reports.db.cases.find({}, {"code": 1}).to_list()
        return docs if len(docs) == len(subs) else None

    docs = await poll_until(all_cases, "every case", 60)
    assert sorted(d["code"] for d in docs) == [f"TP-{yy:02d}-{n:06d}" for n in range(1, len(subs) + 1)]


async def test_code_claims_do_not_race_even_where_findandmodify_does(reports):
    """FerretDB 1.24 loses concurrent $inc updates; the code is claimed by an insert instead."""
    store = Store(reports.db)
    codes = await asyncio.gather(
        *(store.claim_code("sonky:26", lambda n: f"SK-26-{n:06d}", f"case-{i}") for i in range(40))
    )
    assert sorted(c for c, _ in codes) == [f"SK-26-{n:06d}" for n in range(1, 41)]
    again = await store.claim_code("sonky:26", lambda n: f"SK-26-{n:06d}", "case-7")
    assert again[0].startswith("SK-26-"), "a retried claim for the same case never takes a used code"


async def test_routing_priority_and_acknowledgement(reports):
    emergency = submission("sonky", description="Có cướp giật", source="emergency", category="theft")
    fraud = submission("sonky", description="Tôi bị lừa chuyển khoản", category="fraud")
    noise = submission("tanphu", kind="public_order", category="noise", description="Karaoke ồn", ward="Tân Quý")
    for s in (emergency, fraud, noise):
        await reports.submit(s)
    e, f, n = [await reports.case_of(s) for s in (emergency, fraud, noise)]
    assert (e["current"]["unit"], e["priority"], e["code"][:3]) == ("sonky", "urgent", "SK-")
    assert (f["current"]["unit"], f["priority"], f["route_rule"]) == ("hinhsu", "normal", "fraud-and-cyber-crime")
    assert (n["current"]["unit"], n["ward"]) == ("tanquy", "Tân Quý")
    (ack,) = await reports.acks_for(emergency.user_id)
    assert ack.oa_id == emergency.oa_id and ack.lane == "notice" and ack.message_type == "cs"
    assert e["code"] in ack.message.text and "113" in ack.message.text
    assert [b.payload for b in ack.message.buttons] == ["113"]


async def test_lifecycle_carries_no_reporter_identity(reports):
    sub = submission()
    await reports.submit(sub)
    case = await reports.case_of(sub)
    (created,) = await reports.lifecycle.wait_for(lambda e: e.case_id == case["_id"], "the created record")
    assert created.change == "created" and created.version == 1 and created.status == "received"
    raw = created.model_dump_json()
    assert sub.user_id not in raw
    assert reports.lifecycle.keys[reports.lifecycle.records.index(created)] == case["_id"]


async def test_a_report_for_an_unknown_oa_is_dead_lettered_not_retried(reports):
    bad = submission().model_copy(update={"oa_id": "999"})
    good = submission()
    await reports.publish(REPORTS_SUBMITTED, bad, "999:x")
    await reports.submit(good)
    await reports.case_of(good)
    assert await reports.db.cases.count_documents({"oa_id": "999"}) == 0


async def _async(value):
    return value
