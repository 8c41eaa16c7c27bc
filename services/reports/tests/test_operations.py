"""Operations: key rotation end to end, metrics for alerting, the checked-in OpenAPI document."""

from __future__ import annotations

import base64
import os

import pytest
from pymongo import AsyncMongoClient

from servicekit.testing import poll_until
from services.reports.crypto import ReporterCipher
from services.reports.openapi import CHECKED_IN, render
from services.reports.rekey import rekey
from services.reports.tests.support import outcome_of, running, settings_for, submission


@pytest.mark.unit
def test_the_checked_in_openapi_document_is_current():
    assert CHECKED_IN.read_text(encoding="utf-8") == render(), "run: python -m services.reports.openapi"


def b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.integration
async def test_key_rotation_keeps_every_reporter_reachable(infra, topic_prefix):
    k1, k2 = b64key(), b64key()
    first = settings_for(infra, topic_prefix, reporter_key_id="k1", reporter_key=k1)
    async with running(first) as reports:
        sub = submission("sonky", anonymous=True)
        await reports.submit(sub)
        case = await reports.case_of(sub)
        (ack,) = await reports.acks_for(sub.user_id)
        await reports.deliver(outcome_of(ack))
        assert case["reporter_sealed"].startswith("v1:k1:")
    # New current key, the old one kept for reading; then re-seal everything and drop the old key.
    rotated = settings_for(
        infra,
        topic_prefix,
        mongo_db=first.mongo_db,
        reporter_key_id="k2",
        reporter_key=k2,
        reporter_old_keys={"k1": k1},
    )
    mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    try:
        report = await rekey(mongo[first.database], ReporterCipher.from_settings(rotated))
    finally:
        await mongo.close()
    assert report.resealed["cases"] == 1 and report.resealed["notices"] == 1
    final = settings_for(
        infra,
        topic_prefix,
        mongo_db=first.mongo_db,
        consumer_group=first.consumer_group,
        reporter_key_id="k2",
        reporter_key=k2,
    )
    async with running(final) as reports:
        doc = await reports.db.cases.find_one({"_id": case["_id"]})
        assert doc["reporter_sealed"].startswith("v1:k2:")
        status, _, _ = await reports.call(
            "POST", f"/api/v1/cases/{case['_id']}/replies", reports.token(), body={"text": "Cảm ơn Anh/Chị."}
        )
        assert status == 200
        await reports.outbound.wait_for(
            lambda c: c.user_id == sub.user_id and "Cảm ơn" in c.message.text, "the reply after rotation"
        )


@pytest.mark.integration
async def test_metrics_for_alerting(infra, topic_prefix):
    async with running(settings_for(infra, topic_prefix, urgent_ack_threshold_s=0.5)) as reports:
        urgent = submission("sonky", source="emergency", description="Cướp giật")
        await reports.submit(urgent)
        await reports.case_of(urgent)

        async def exposed():
            async with reports.http.get(reports.url("/metrics")) as r:
                text = await r.text()
            return text if "zan_reports_urgent_unacknowledged 1.0" in text else None

        text = await poll_until(exposed, "the urgent case to count as unacknowledged", 20)
        for name in (
            "zan_reports_cases{",
            "zan_reports_cases_created_total{",
            "zan_reports_open_urgent_cases 1.0",
            "zan_reports_urgent_unacknowledged_oldest_seconds",
            "zan_reports_time_to_acknowledge_seconds",
            "zan_reports_notices_pending{",
            "zan_reports_attachments_queued",
        ):
            assert name in text, name
