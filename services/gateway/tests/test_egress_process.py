"""`python -m services.gateway.egress` as a real process configured by EGRESS_* variables."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import aiohttp
import pytest

from contracts.topics import ZALO_DELIVERY
from devstack.paths import REPO_ROOT
from servicekit.testing import free_port, poll_until, unique
from services.gateway.tests.conftest import publish
from services.gateway.tests.support import command, random_user_id, reading

pytestmark = pytest.mark.integration


async def test_egress_process_sends_reports_ready_and_drains_on_sigterm(infra, topic_prefix, sim, producer, tmp_path):
    user = random_user_id()
    await sim.interacted("tanphu", user)
    port = free_port()
    env = {
        **os.environ,
        "EGRESS_HTTP_PORT": str(port),
        "EGRESS_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "EGRESS_MONGO_URI": infra.mongo_uri,
        "EGRESS_MONGO_DB": unique("db"),
        "EGRESS_CONSUMER_GROUP": unique("g"),
        "EGRESS_TOPIC_PREFIX": topic_prefix,
        "EGRESS_ZALO_API_BASE": sim.url,
        "EGRESS_ZALO_OAUTH_BASE": sim.url,
        "EGRESS_BOOTSTRAP_REFRESH_TOKENS": json.dumps({"tanphu": (await sim.grant("tanphu"))["refresh_token"]}),
        "EGRESS_TOKEN_ENCRYPTION_KEY": "uAk3ZtQ1w5p9wQ7nXyq7d0v8yqkq6rS1n0Qk3m2s4aE=",
    }
    log = (tmp_path / "egress.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.gateway.egress", cwd=REPO_ROOT, env=env, stdout=log, stderr=log
    )
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> dict | None:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                        return await r.json() if r.status == 200 else None
                except aiohttp.ClientError:
                    return None

            checks = await poll_until(ready, "the egress to be ready", timeout=60)
            assert checks["checks"] == {"mongo": True, "kafka": True, "consumer": True, "consumer-bulk": True}
            cmd = command(user, text="từ tiến trình")
            async with reading(infra.kafka_bootstrap, topic_prefix + ZALO_DELIVERY) as deliveries:
                await publish(producer, cmd)
                (outcome,) = await deliveries.wait_for(1, timeout=60)
            assert outcome["status"] == "sent" and outcome["command_id"] == cmd.command_id
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                metrics = await r.text()
            labels = 'action="send",lane="conversation",oa="tanphu",status="sent",zalo_error=""'
            assert f"zan_egress_commands_total{{{labels}}} 1.0" in metrics
            assert 'zan_zalo_token_refreshes_total{oa="tanphu",outcome="ok"} 1.0' in metrics
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, (tmp_path / "egress.log").read_text()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
