"""A kit service as a real process and HTTP app: SIGTERM drains; readiness follows the database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from contracts.topics import ZALO_EVENTS
from devstack import ferretdb
from devstack.paths import REPO_ROOT
from servicekit.metrics import KitMetrics
from servicekit.producer import EventProducer
from servicekit.service import service_app
from servicekit.settings import ServiceSettings
from servicekit.testing import free_port, poll_until, unique
from servicekit.tests.fixtures import key_of, zalo_event

pytestmark = pytest.mark.integration


async def test_sigterm_finishes_the_record_in_flight_and_commits_it(infra, topic_prefix, tmp_path):
    group, db_name, port = unique("g"), unique("db"), free_port()
    env = {
        **os.environ,
        "SLOW_SERVICE_NAME": "slow",
        "SLOW_CONSUMER_GROUP": group,
        "SLOW_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "SLOW_MONGO_URI": infra.mongo_uri,
        "SLOW_MONGO_DB": db_name,
        "SLOW_TOPIC_PREFIX": topic_prefix,
        "SLOW_HTTP_PORT": str(port),
        "SLOW_HANDLER_SECONDS": "2.0",
    }
    log_path = tmp_path / "slow.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "servicekit.tests.slow_service"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
        )
    mongo = AsyncMongoClient(infra.mongo_uri)
    metrics = KitMetrics(CollectorRegistry())
    producer = EventProducer(infra.kafka_bootstrap, metrics, topic_prefix)
    await producer.start()
    try:
        event = zalo_event(unique("e"))
        await producer.publish(ZALO_EVENTS, key_of(event), event)
        progress = mongo[db_name].progress
        await poll_until(
            lambda: progress.find_one({"event_id": event.event_id, "stage": "started"}), "the handler to start", 60
        )
        proc.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(proc.wait, 30)
        assert exit_code == 0, log_path.read_text(errors="replace")
        assert await progress.find_one({"event_id": event.event_id, "stage": "finished"}), "in-flight record finished"

        consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            committed = {}
            for p in range(2):
                committed[p] = await consumer.committed(TopicPartition(topic_prefix + ZALO_EVENTS, p))
        finally:
            await consumer.stop()
        assert sum(c or 0 for c in committed.values()) == 1, f"the record's offset was committed: {committed}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await producer.stop()
        await mongo.close()


async def test_readiness_goes_red_while_ferretdb_is_down_and_green_when_it_returns(infra, tmp_path):
    name, port = f"ferretdb-{unique('ready')}", free_port()
    data = tmp_path / "ferretdb"
    await asyncio.to_thread(ferretdb.start_instance, infra.cfg, name, port, data)
    settings = ServiceSettings(
        service_name="ready-test",
        kafka_bootstrap=infra.kafka_bootstrap,
        mongo_uri=f"mongodb://127.0.0.1:{port}/",
        mongo_timeout_s=1.0,
    )
    server = TestServer(service_app(settings))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:

            async def ready_is(expected: int):
                async with http.get(server.make_url("/readyz")) as r:
                    body = await r.json()
                    return body if r.status == expected else None

            body = await poll_until(lambda: ready_is(200), "ready with FerretDB up", 30)
            assert body["checks"] == {"mongo": True, "kafka": True}

            await asyncio.to_thread(ferretdb.stop, infra.cfg, name)
            body = await poll_until(lambda: ready_is(503), "not ready with FerretDB down", 30)
            assert body["checks"]["mongo"] is False and body["checks"]["kafka"] is True

            await asyncio.to_thread(ferretdb.start_instance, infra.cfg, name, port, data)
            await poll_until(lambda: ready_is(200), "ready again once FerretDB is back", 30)

            async with http.get(server.make_url("/metrics")) as r:
                assert "zan_http_requests_total" in await r.text()
    finally:
        await server.close()
        await asyncio.to_thread(ferretdb.stop, infra.cfg, name)
