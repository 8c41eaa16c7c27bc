"""Interrupted work finishes: a change whose publication failed is published by the sweeper."""

from __future__ import annotations

import pytest

from servicekit.testing import poll_until
from services.reports import changes
from services.reports.api import API
from services.reports.auth import Principal
from services.reports.changes import OfficerCommand
from services.reports.tests.support import submission

pytestmark = pytest.mark.integration


class BrokerAway:
    """A producer whose broker does not answer."""

    async def publish_all(self, records):
        raise ConnectionError("broker away")


async def test_a_change_published_while_the_broker_was_away_is_published_by_the_sweeper(reports):
    sub = submission()
    await reports.submit(sub)
    case = await reports.case_of(sub)
    deps = reports.app[API].deps
    officer = Principal("officer-1", "officer", "hinhsu")
    after, change = await changes.apply(
        deps, BrokerAway(), case["_id"], officer, OfficerCommand("status", status="acknowledged"), 1
    )
    assert after.status == "acknowledged" and after.version == 2
    assert await reports.db.outbox.count_documents({}) == 1
    record = await reports.lifecycle.wait_for(
        lambda e: e.case_id == case["_id"] and e.version == 2, "the lifecycle record from the sweeper"
    )
    assert record[0].status == "acknowledged"
    sent = await reports.outbound.wait_for(
        lambda c: c.context.get("notice_id") == change["notice_id"], "the citizen's notice from the sweeper"
    )
    assert sent[0].user_id == sub.user_id
    await poll_until(lambda: _empty(reports), "the outbox to be empty")


async def test_concurrent_changes_on_one_version_one_wins(reports):
    import asyncio

    sub = submission()
    await reports.submit(sub)
    case = await reports.case_of(sub)
    token = reports.token("officer", "hinhsu")
    path = f"/api/v1/cases/{case['_id']}"
    results = await asyncio.gather(
        reports.call("POST", path + "/status", token, body={"status": "acknowledged", "version": 1}),
        reports.call("POST", path + "/status", token, body={"status": "rejected", "reason": "trùng", "version": 1}),
        reports.call("POST", path + "/transfer", token, body={"unit": "csgt", "version": 1}),
    )
    statuses = sorted(r[0] for r in results)
    # One wins; the others conflict (409), or no longer see the case if the winner moved it away (404).
    assert statuses[0] == 200 and all(s in (404, 409) for s in statuses[1:]), statuses
    assert await reports.db.case_changes.count_documents({"case_id": case["_id"]}) == 2


async def _empty(reports):
    return await reports.db.outbox.count_documents({}) == 0
