"""The producer against the real broker: a session the broker rejects is replaced, nothing stays stuck."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OutOfOrderSequenceNumber
from prometheus_client import CollectorRegistry

from contracts.topics import ZALO_EVENTS
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer
from servicekit.testing import unique
from servicekit.tests.fixtures import key_of, zalo_event

pytestmark = pytest.mark.integration


async def test_after_the_broker_rejects_the_session_the_next_publish_goes_through(infra, topic_prefix):
    producer = EventProducer(infra.kafka_bootstrap, KitMetrics(CollectorRegistry()), topic_prefix)
    await producer.start()
    try:
        broken = producer._session.current

        async def rejected(*args, **kwargs):
            raise OutOfOrderSequenceNumber("the broker refused the batch's sequence number")

        broken.send_and_wait = rejected  # what aiokafka does after a batch expired during an outage
        event = zalo_event(unique("e"), text="sau sự cố")
        with pytest.raises(OutOfOrderSequenceNumber):
            await producer.publish(ZALO_EVENTS, key_of(event), event)
        assert producer._session.current is not broken, "a new producer took over"
        await producer.publish(ZALO_EVENTS, key_of(event), event)  # the caller's retry
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        physical = topic_prefix + ZALO_EVENTS
        await consumer._client.force_metadata_update()  # every partition of the topic
        parts = consumer.partitions_for_topic(physical)
        assert parts, f"no metadata for {physical}"
        tps = [TopicPartition(physical, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        values: list[bytes] = []
        for _ in range(20):
            batch = await consumer.getmany(*tps, timeout_ms=500)
            values += [r.value for recs in batch.values() for r in recs]
            if values:
                break
    finally:
        await consumer.stop()
    assert len(values) == 1 and event.event_id.encode() in values[0]
