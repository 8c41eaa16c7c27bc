"""Kafka TLS and SASL settings: what the clients are given, and a real round trip through the local
broker's SASL listener (PLAIN and SCRAM-SHA-512), with the same settings class every service uses."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import SecretStr, ValidationError

from contracts.topics import ZALO_EVENTS
from devstack.paths import LOCAL_KAFKA_PASSWORD, LOCAL_KAFKA_USER
from servicekit.kafka_connection import client_options
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer
from servicekit.settings import ServiceSettings
from servicekit.testing import unique
from servicekit.tests.fixtures import key_of, zalo_event


@pytest.mark.unit
def test_plaintext_passes_only_the_bootstrap_servers() -> None:
    assert client_options("k:9092") == {"bootstrap_servers": "k:9092", "security_protocol": "PLAINTEXT"}


@pytest.mark.unit
def test_sasl_over_tls_verifies_the_brokers_and_sends_the_credentials() -> None:
    opts = client_options("k:9093", "SASL_SSL", username="intent", password="s3cret")
    context = opts["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert (opts["sasl_mechanism"], opts["sasl_plain_username"], opts["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "intent",
        "s3cret",
    )


@pytest.mark.unit
def test_sasl_without_credentials_is_refused_at_start_up_and_the_password_never_printed() -> None:
    with pytest.raises(ValidationError, match="SASL username and password"):
        ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="intent")
    settings = ServiceSettings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_username="intent", kafka_sasl_password=SecretStr("s3cret")
    )
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())


def _sasl_settings(infra, topic_prefix: str, mechanism: str, password: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="kit-sasl-test",
        kafka_bootstrap=infra.cfg.kafka_sasl_bootstrap,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username=LOCAL_KAFKA_USER,
        kafka_sasl_password=SecretStr(password),
        topic_prefix=topic_prefix,
    )


@pytest.mark.integration
@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
async def test_a_record_goes_through_the_sasl_listener_with_the_service_settings(infra, topic_prefix, mechanism):
    settings = _sasl_settings(infra, topic_prefix, mechanism, LOCAL_KAFKA_PASSWORD)
    producer = EventProducer(settings.kafka(), KitMetrics(CollectorRegistry()), topic_prefix)
    try:
        await producer.start()
    except Exception as exc:  # a local broker formatted before SCRAM credentials were added at format time
        pytest.fail(f"SASL {mechanism} refused ({exc!r}); an old local broker? `make stop clean` then re-run")
    event = zalo_event(unique("e"), text="qua SASL")
    try:
        await producer.publish(ZALO_EVENTS, key_of(event), event)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(**settings.kafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.topic(ZALO_EVENTS), p) for p in range(2)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        batch = await consumer.getmany(*tps, timeout_ms=5000)
        values = [r.value for recs in batch.values() for r in recs]
    finally:
        await consumer.stop()
    assert event.model_dump_json().encode() in values


@pytest.mark.integration
async def test_a_wrong_password_is_refused_by_the_broker(infra, topic_prefix):
    settings = _sasl_settings(infra, topic_prefix, "SCRAM-SHA-512", "not-the-password")
    producer = EventProducer(settings.kafka(), KitMetrics(CollectorRegistry()), topic_prefix)
    with pytest.raises(Exception) as refused:
        await asyncio.wait_for(producer.start(), 30)
    await producer.stop()
    assert not isinstance(refused.value, TimeoutError), "refused at once, not left hanging"
