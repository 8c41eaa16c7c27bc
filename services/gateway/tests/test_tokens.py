"""OA tokens against FerretDB and the simulator's OAuth: one refresh per expiry across replicas, the
bootstrap token used once, and what happens when a rotated refresh token was lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from contracts import utcnow
from servicekit.testing import unique
from services.gateway import zalo_api
from services.gateway.metrics import EgressMetrics
from services.gateway.store import TOKENS, Sealer, TokenStore
from services.gateway.tests.support import REGISTRY, TANPHU
from services.gateway.tokens import TokenManager, TokenUnavailable
from services.gateway.zalo_client import ZaloClient

pytestmark = pytest.mark.integration


@asynccontextmanager
async def replica(db, sim, owner: str, key: str | None = None) -> AsyncIterator[tuple[TokenManager, EgressMetrics]]:
    metrics = EgressMetrics(CollectorRegistry())
    async with aiohttp.ClientSession() as session:
        client = ZaloClient(
            session,
            api_base=sim.url,
            oauth_base=sim.url,
            app_id=REGISTRY.app_id,
            app_secret="dev-app-secret",
            timeout_s=5,
            metrics=metrics,
        )
        store = TokenStore(db, Sealer(key))
        await store.ensure_indexes()
        manager = TokenManager(
            store,
            client,
            REGISTRY,
            owner=owner,
            refresh_before_expiry_s=3600,
            lease_s=10,
            metrics=metrics,
            clock=utcnow,
        )
        yield manager, metrics


@pytest.fixture
async def db(infra):
    client = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    yield client[unique("db")]
    await client.close()


async def test_concurrent_senders_on_two_replicas_share_one_refresh(db, sim):
    grant = await sim.grant("tanphu")
    async with replica(db, sim, "a") as (a, _), replica(db, sim, "b") as (b, _):
        await a.adopt_bootstrap({"tanphu": grant["refresh_token"]})
        first = await asyncio.gather(*(m.access_token(TANPHU) for m in [a, b] * 10))
        assert len(set(first)) == 1 and len(await sim.refreshes()) == 1
        # Zalo now refuses that token: everyone reports it at once, one refresh follows.
        second = await asyncio.gather(*(m.replace(TANPHU, first[0]) for m in [a, b] * 10))
    assert len(set(second)) == 1 and second[0] != first[0]
    assert len(await sim.refreshes()) == 2


async def test_a_bootstrap_token_is_used_once_even_across_restarts(db, sim):
    grant = await sim.grant("tanphu")
    tokens = {"tanphu": grant["refresh_token"]}
    async with replica(db, sim, "first-start") as (m, _):
        assert await m.adopt_bootstrap(tokens) == ["tanphu"]
        await m.access_token(TANPHU)
    async with replica(db, sim, "second-start") as (m, metrics):
        assert await m.adopt_bootstrap(tokens) == [], "the same (now dead) value is not adopted again"
        assert await m.access_token(TANPHU)
    assert len(await sim.refreshes()) == 1
    assert metrics.token_refreshes.labels("tanphu", "rejected")._value.get() == 0


async def test_a_lost_rotation_locks_the_oa_out_until_a_new_token_is_adopted(db, sim):
    key = Sealer.new_key()
    async with replica(db, sim, "a", key=key) as (m, metrics):
        await m.adopt_bootstrap({"tanphu": (await sim.grant("tanphu"))["refresh_token"]})
        token = await m.access_token(TANPHU)
        raw = await db[TOKENS].find_one({"oa_id": TANPHU.oa_id}, sort=[("version", -1)])
        assert raw["refresh_token"].startswith("fernet:") and raw["access_token"].startswith("fernet:"), "sealed"
        # The crash window: Zalo rotated the pair but our write never happened. Reproduce it by
        # rotating behind the egress's back with the refresh token it holds.
        held = (await TokenStore(db, Sealer(key)).current(TANPHU.oa_id)).refresh_token
        async with aiohttp.ClientSession() as http:
            form = zalo_api.refresh_form(REGISTRY.app_id, held)
            async with http.post(sim.url + "/v4/oa/access_token", data=form, headers={"secret_key": "dev-app-secret"}):
                pass
        with pytest.raises(TokenUnavailable) as locked:
            await m.replace(TANPHU, token)
        assert locked.value.locked_out
        assert metrics.locked_out.labels("tanphu")._value.get() == 1
        with pytest.raises(TokenUnavailable):
            await m.access_token(TANPHU)  # no further refresh attempts with the dead token
        refreshes_while_locked = len(await sim.refreshes())

        # An OA admin issues a new refresh token; the next start adopts it.
        assert await m.adopt_bootstrap({"tanphu": (await sim.grant("tanphu"))["refresh_token"]}) == ["tanphu"]
        assert await m.access_token(TANPHU)
        assert metrics.locked_out.labels("tanphu")._value.get() == 0
    assert refreshes_while_locked == 3, "bootstrap, the one behind our back, the refused one"


async def test_client_uploads_an_image_as_multipart_and_reads_zalo_errors(db, sim):
    async with replica(db, sim, "a") as (m, _):
        await m.adopt_bootstrap({"tanphu": (await sim.grant("tanphu"))["refresh_token"]})
        token = await m.access_token(TANPHU)
        client = m._client
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        ok = await client.upload_image(token, png, "a.png", "image/png")
        assert zalo_api.classify_http(ok.status, ok.body).ok and zalo_api.data_of(ok.body)["attachment_id"]
        assert ok.rate_limit is not None and ok.rate_remain is not None, "X-RateLimit-* headers are read"
        refused = await client.upload_image(token, b"%PDF-1.4", "a.pdf", "application/pdf")
        verdict = zalo_api.classify_http(refused.status, refused.body)
        assert (verdict.reason, verdict.zalo_error) == ("invalid", -201)
