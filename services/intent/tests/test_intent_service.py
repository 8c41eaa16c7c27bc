"""The intent service on the real broker and FerretDB: events in, replies and reports out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from contracts import Attachment, Location, ZaloEvent, citizen_key, utcnow
from contracts.topics import MODELS, REPORTS_SUBMITTED, ZALO_EVENTS, ZALO_OUTBOUND, topic
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer
from servicekit.testing import poll_until, unique
from servicekit.tests.fixtures import outcome_of
from services.intent.app import create_app
from services.intent.settings import IntentSettings

pytestmark = pytest.mark.integration

WARD_OA = "4318000000000000008"  # Công an phường Tân Sơn Nhì in the seed registry


@dataclass
class Harness:
    prefix: str
    producer: EventProducer
    reader: AIOKafkaConsumer
    records: dict[str, list]

    async def send(
        self, user: str, name: str, n: int, *, text=None, attachments=(), location=None, direction="inbound"
    ):
        event = ZaloEvent(
            event_id=f"zalo:{user}-{n}",
            occurred_at=utcnow(),
            producer="test",
            correlation_id=f"zalo:{user}-{n}",
            app_id="4318000000000000000",
            oa_id=WARD_OA,
            oa_key="tansonnhi",
            user_id=user,
            event_name=name,
            direction=direction,
            zalo_timestamp_ms=1796000000000 + n,
            message_id=f"{user}-{n}",
            text=text,
            attachments=list(attachments),
            location=location,
            raw={},
        )
        await self.producer.publish(ZALO_EVENTS, citizen_key(WARD_OA, user), event)
        return event

    async def collect(self) -> None:
        batch = await self.reader.getmany(timeout_ms=100)
        for tp, recs in batch.items():
            logical = tp.topic.removeprefix(self.prefix)
            for r in recs:
                self.records.setdefault(logical, []).append(
                    MODELS[topic(logical).model_name].model_validate_json(r.value)
                )

    async def wait(self, logical: str, user: str, count: int, timeout: float = 30.0) -> list:
        async def enough():
            await self.collect()
            mine = [r for r in self.records.get(logical, []) if r.user_id == user]
            return mine if len(mine) >= count else None

        return await poll_until(enough, f"{count} record(s) on {logical} for {user}", timeout)

    async def settle(self, logical: str, user: str) -> list:
        """Everything for `user` on a topic after the service had time to produce more (no sleeps: a few polls)."""
        for _ in range(10):
            await self.collect()
        return [r for r in self.records.get(logical, []) if r.user_id == user]


@pytest.fixture
async def harness(infra, topic_prefix) -> AsyncIterator[Harness]:
    settings = IntentSettings(
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_uri=infra.mongo_uri,
        mongo_db=unique("intent"),
        consumer_group=unique("intent"),
        topic_prefix=topic_prefix,
    )
    server = TestServer(create_app(settings))
    await server.start_server()
    producer = EventProducer(infra.kafka_bootstrap, KitMetrics(CollectorRegistry()), topic_prefix)
    await producer.start()
    reader = AIOKafkaConsumer(
        topic_prefix + ZALO_OUTBOUND,
        topic_prefix + REPORTS_SUBMITTED,
        bootstrap_servers=infra.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await reader.start()
    yield Harness(topic_prefix, producer, reader, {})
    await reader.stop()
    await producer.stop()
    await server.close()


async def test_follow_gets_a_welcome_naming_the_ward_with_the_menu(harness: Harness):
    user = unique("u")
    await harness.send(user, "follow", 1, direction="management")
    (reply,) = await harness.wait(ZALO_OUTBOUND, user, 1)
    assert "Tân Sơn Nhì" in reply.message.text
    assert [b.payload for b in reply.message.buttons][:4] == ["#thutuc", "#baotin", "#danhba", "#tintuc"]
    assert reply.lane == "conversation"


async def test_a_question_without_diacritics_gets_the_procedure_answer(harness: Harness):
    user = unique("u")
    await harness.send(user, "user_send_text", 1, text="cho hoi dang ky tam tru can giay to gi a")
    (reply,) = await harness.wait(ZALO_OUTBOUND, user, 1)
    assert "tạm trú" in reply.message.text.lower()
    assert "CT01" in reply.message.text


async def test_echoes_and_receipts_never_get_a_reply(harness: Harness):
    user = unique("u")
    await harness.send(user, "oa_send_text", 1, text="Dạ, xin chào", direction="echo")
    await harness.send(user, "user_seen_message", 2, direction="receipt")
    await harness.send(user, "user_send_text", 3, text="xin chào")
    replies = await harness.wait(ZALO_OUTBOUND, user, 1)
    assert len(await harness.settle(ZALO_OUTBOUND, user)) == len(replies) == 1


async def test_report_form_with_location_and_two_photos_is_submitted_once(harness: Harness):
    user = unique("u")
    n = 0

    async def say(text=None, **kw):
        nonlocal n
        n += 1
        name = kw.pop("name", "user_send_text")
        await harness.send(user, name, n, text=text, **kw)
        return await harness.wait(ZALO_OUTBOUND, user, n)

    await say("#baotin")
    replies = await say("tố giác")
    assert replies
    await say("Tôi bị trộm xe máy Wave biển 59-X1 123.45 trước cửa nhà")
    await say("khoảng 10 giờ tối qua")
    await say(
        name="user_send_location", location=Location(latitude=10.79, longitude=106.63, name="Hẻm 12 Lũy Bán Bích")
    )
    await say(name="user_send_image", attachments=[Attachment(type="image", url="http://127.0.0.1:1/a.jpg")])
    await say(name="user_send_image", attachments=[Attachment(type="image", url="http://127.0.0.1:1/b.jpg")])
    await say("xong")
    replies = await say("ẩn danh")
    confirmation = await say("gửi")
    assert confirmation
    (report,) = await harness.wait(REPORTS_SUBMITTED, user, 1)
    assert report.kind == "crime"
    assert report.location is not None and report.location.latitude == pytest.approx(10.79)
    assert [a.url for a in report.attachments] == ["http://127.0.0.1:1/a.jpg", "http://127.0.0.1:1/b.jpg"]
    assert report.anonymous is True
    assert report.ward == "Tân Sơn Nhì"


async def test_emergency_gets_the_emergency_reply_first_and_an_urgent_report(harness: Harness):
    user = unique("u")
    await harness.send(user, "user_send_text", 1, text="#baotin")
    await harness.wait(ZALO_OUTBOUND, user, 1)
    await harness.send(user, "user_send_text", 2, text="cứu với có cướp đang cầm dao trong nhà tôi")
    replies = await harness.wait(ZALO_OUTBOUND, user, 2)
    emergency = replies[1]
    assert "113" in emergency.message.text
    assert {b.payload for b in emergency.message.buttons} >= {"113", "114", "115"}
    (report,) = await harness.wait(REPORTS_SUBMITTED, user, 1)
    assert report.urgent and report.source == "emergency"


async def test_redelivered_event_produces_no_second_reply(harness: Harness):
    user = unique("u")
    first = await harness.send(user, "user_send_text", 1, text="xin chào")
    await harness.wait(ZALO_OUTBOUND, user, 1)
    await harness.producer.publish(ZALO_EVENTS, citizen_key(WARD_OA, user), first)  # Zalo retry / redelivery
    await harness.send(user, "user_send_text", 2, text="cảm ơn")
    replies = await harness.wait(ZALO_OUTBOUND, user, 2)
    settled = await harness.settle(ZALO_OUTBOUND, user)
    # The redelivered event was the citizen's last: its stored outputs may be re-emitted, but only as the very
    # same records (same event and command ids), which the egress sends once; never a second, new reply.
    assert len(replies) >= 2
    assert len({r.command_id for r in settled}) == 2
    assert len({r.event_id for r in settled}) == 2
    assert {r.message.text for r in settled if r.command_id == settled[0].command_id} == {settled[0].message.text}


async def test_redelivery_of_an_older_event_keeps_the_last_turn_replayable(harness: Harness):
    """A crash before the last turn's replies were published redelivers the citizen's earlier events too:
    those are skipped without a write, so the last event still re-emits its replies rather than nothing."""
    user = unique("u")
    first = await harness.send(user, "user_send_text", 1, text="xin chào")
    await harness.wait(ZALO_OUTBOUND, user, 1)
    last = await harness.send(user, "user_send_text", 2, text="cảm ơn")
    replies = await harness.wait(ZALO_OUTBOUND, user, 2)
    last_command = replies[-1].command_id
    for event in (first, last):  # redelivered in partition order
        await harness.producer.publish(ZALO_EVENTS, citizen_key(WARD_OA, user), event)

    async def last_reemitted():
        await harness.collect()
        mine = [r for r in harness.records.get(ZALO_OUTBOUND, []) if r.command_id == last_command]
        return mine if len(mine) >= 2 else None

    await poll_until(last_reemitted, "the last turn's reply re-emitted", 30)
    settled = await harness.settle(ZALO_OUTBOUND, user)
    assert len({r.command_id for r in settled}) == 2, "no new reply for either redelivered event"


def _failed(command, *, retryable: bool = True, reason: str = "transient"):
    """The egress's outcome for a command it gave up on."""
    return outcome_of(command, status="failed", reason=reason, retryable=retryable)


async def _outcome(harness: Harness, outcome) -> None:
    from contracts.topics import ZALO_DELIVERY

    await harness.producer.publish(ZALO_DELIVERY, citizen_key(outcome.oa_id, outcome.user_id), outcome)


async def test_a_reply_zalo_was_down_for_is_sent_again_as_a_new_command(harness: Harness):
    user = unique("u")
    await harness.send(user, "user_send_text", 1, text="xin chào")
    (reply,) = await harness.wait(ZALO_OUTBOUND, user, 1)
    await _outcome(harness, _failed(reply))
    _, again = await harness.wait(ZALO_OUTBOUND, user, 2)
    assert again.command_id != reply.command_id, "a final outcome is final for its command id: a new one"
    assert again.message == reply.message and again.lane == "conversation"
    assert again.context == {"service": "intent", "reply_of": reply.command_id, "resend": "1"}

    await _outcome(harness, _failed(again))  # Zalo still down when the egress tried again
    *_, third = await harness.wait(ZALO_OUTBOUND, user, 3)
    assert third.context["reply_of"] == reply.command_id and third.context["resend"] == "2"


async def test_only_the_latest_turn_is_sent_again_and_never_a_final_failure(harness: Harness):
    user = unique("u")
    await harness.send(user, "user_send_text", 1, text="xin chào")
    (old,) = await harness.wait(ZALO_OUTBOUND, user, 1)
    await harness.send(user, "user_send_text", 2, text="cảm ơn")
    _, latest = await harness.wait(ZALO_OUTBOUND, user, 2)
    await _outcome(harness, _failed(old))  # superseded: the citizen wrote again and was answered
    await _outcome(harness, _failed(latest, retryable=False, reason="window_closed"))  # will never pass
    exhausted = _failed(latest)
    exhausted.context["resend"] = "10"  # INTENT_REPLY_RESENDS tries already spent
    await _outcome(harness, exhausted)
    await _outcome(harness, _failed(latest))  # one that is sent again: the ones before it (same partition) are done
    await harness.wait(ZALO_OUTBOUND, user, 3)
    settled = await harness.settle(ZALO_OUTBOUND, user)
    assert [r.command_id for r in settled[:2]] == [old.command_id, latest.command_id]
    assert [r.context.get("reply_of") for r in settled[2:]] == [latest.command_id], "only the last one sent again"
