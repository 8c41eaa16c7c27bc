"""Campaigns through the editor API, the broker and FerretDB: approval, targeting, fan-out, outcomes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from contracts import BroadcastLifecycle
from contracts.topics import NEWS_BROADCASTS
from servicekit.testing import poll_until, unique
from services.news import domain
from services.news.tests.support import (
    REGISTRY,
    TopicReader,
    campaign_body,
    follower,
    intent,
    oa,
    outcome_for,
    running_news,
    token,
    zalo_event,
)

pytestmark = pytest.mark.integration

EDITOR, SUPERVISOR, OTHER_SUP = token("ed-1", "editor"), token("sup-1", "supervisor"), token("sup-2", "supervisor")


async def test_four_eyes_approval(infra, topic_prefix):
    async with running_news(infra, topic_prefix) as h:
        await h.seed([follower("tanphu", unique("u"), active_hours_ago=1, now=h.now)])
        status, c = await h.call("POST", "/api/v1/campaigns", EDITOR, campaign_body(send_at=_later(h)))
        assert status == 201 and c["state"] == "draft" and c["author"] == "ed-1"
        path = f"/api/v1/campaigns/{c['id']}"

        status, err = await h.call("POST", path + "/approve", EDITOR)
        assert status == 403 and err["error"] == "forbidden"

        status, own = await h.call("POST", "/api/v1/campaigns", SUPERVISOR, campaign_body(send_at=_later(h)))
        status, err = await h.call("POST", f"/api/v1/campaigns/{own['id']}/approve", SUPERVISOR)
        assert status == 403 and "four eyes" in err["detail"]

        status, edited = await h.call("PATCH", path, SUPERVISOR, {"title": "Cảnh báo mới"})
        assert status == 200 and edited["editors"] == ["sup-1"] and edited["version"] == 2
        status, err = await h.call("POST", path + "/approve", SUPERVISOR)
        assert status == 403, "a supervisor who edited the draft is not a second pair of eyes"

        status, approved = await h.call("POST", path + "/approve", OTHER_SUP)
        assert status == 200 and approved["state"] == "approved" and approved["approved_by"] == "sup-2"
        await asyncio.sleep(1.0)  # five scheduler ticks: a campaign scheduled for tomorrow waits
        assert (await h.campaign(c["id"]))["state"] == "approved"
        status, err = await h.call("PATCH", path, EDITOR, {"title": "Sửa sau khi duyệt"})
        assert status == 409
        status, err = await h.call("POST", path + "/approve", OTHER_SUP)
        assert status == 409 and err["error"] == "invalid_state"

        status, cancelled = await h.call("POST", path + "/cancel", OTHER_SUP)
        assert status == 200 and cancelled["state"] == "cancelled"
        changes = [e["change"] for e in cancelled["history"]]
        assert changes == ["created", "edited", "approved", "cancelled"]

        events = await _lifecycle(h, lambda es: {"created", "approved", "cancelled"} <= {e.change for e in es})
        assert {e.campaign_id for e in events} >= {c["id"]}


async def test_validation_errors_and_auth(infra, topic_prefix):
    async with running_news(infra, topic_prefix) as h:
        await h.seed([follower("sonky", unique("u"), active_hours_ago=1, now=h.now)])
        status, err = await h.call("POST", "/api/v1/campaigns", None, campaign_body())
        assert status == 401 and err["error"] == "missing_token"
        status, err = await h.call("POST", "/api/v1/campaigns", token("x", "citizen"), campaign_body())
        assert status == 403

        bad = campaign_body(
            title="x" * 150,
            summary="y" * 300,
            cover_url="http://cdn.example.vn/c.jpg",
            body=[{"type": "image", "url": "http://cdn.example.vn/a.jpg"}],
            dm_text="z" * 2001,
            send_at=(h.now - timedelta(hours=1)).isoformat(),
        )
        status, err = await h.call("POST", "/api/v1/campaigns", EDITOR, bad)
        assert status == 422 and err["error"] == "validation"
        assert set(err["fields"]) >= {"title", "summary", "cover_url", "body[0].url", "dm_text", "send_at"}

        status, err = await h.call("POST", "/api/v1/campaigns", EDITOR, campaign_body(target={"wards": ["Hiệp Tân"]}))
        assert status == 422 and err["fields"] == {"target": "matches no follower"}
        status, err = await h.call("POST", "/api/v1/campaigns", EDITOR, campaign_body(colour="red"))
        assert status == 422 and err["fields"] == {"colour": "unknown field"}
        status, err = await h.call("POST", "/api/v1/campaigns", EDITOR, campaign_body(target={"wards": "Sơn Kỳ"}))
        assert status == 422 and "target.wards" in err["fields"]
        async with h.http.post(
            h.url("/api/v1/campaigns"), data=b"{nope", headers={"Authorization": f"Bearer {EDITOR}"}
        ) as r:
            assert r.status == 400


async def test_ward_campaign_reaches_exactly_the_recently_active_followers_of_the_ward(infra, topic_prefix):
    async with running_news(infra, topic_prefix) as h:
        n = h.now
        active_ward = [follower("sonky", unique("a"), active_hours_ago=h_, now=n) for h_ in (1, 20, 47)]
        chose_ward = [follower("tanphu", unique("c"), active_hours_ago=3, ward="Sơn Kỳ", now=n)]
        stale_ward = [follower("sonky", unique("s"), active_hours_ago=h_, now=n) for h_ in (49, 24 * 6, None)]
        other_ward = [follower("hieptan", unique("o"), active_hours_ago=1, now=n) for _ in range(3)]
        opted_out = follower("sonky", unique("x"), active_hours_ago=1, now=n)
        opted_out["opted_out"] = True
        await h.seed(active_ward + chose_ward + stale_ward + other_ward + [opted_out])

        status, preview = await h.call(
            "POST", "/api/v1/preview", EDITOR, {"target": {"wards": ["phường Sơn Kỳ"]}, "channels": {}}
        )
        assert status == 200
        assert (preview["followers"], preview["reachable_directly"], preview["not_reachable_directly"]) == (7, 4, 3)
        assert preview["broadcast_oas"] == ["sonky"]

        campaign_id = await h.create_and_approve(campaign_body(target={"wards": ["Sơn Kỳ"]}))
        expected = {d["user_id"] for d in active_ward + chose_ward}
        cmds = await h.wait_commands(lambda c: len(c.dms(campaign_id)) >= 4, "the direct messages")
        dms = cmds.dms(campaign_id)
        assert {c.user_id for c in dms} == expected
        assert all(c.lane == "campaign" and c.message_type == "cs" and c.not_after for c in dms)
        assert (
            dms[0].message is not None
            and dms[0].message.text
            and "https://congan.example.vn/tin/1" in dms[0].message.text
        )
        (broadcast,) = cmds.broadcasts(campaign_id)
        assert broadcast.oa_id == oa("sonky").oa_id and broadcast.target is not None and broadcast.target.cities == [4]
        assert broadcast.lane == "campaign" and broadcast.article is not None

        status, prog = await h.call("GET", f"/api/v1/campaigns/{campaign_id}/progress", EDITOR)
        d = prog["direct_messages"]
        assert (d["targeted"], d["reachable"], d["not_reachable_directly"], d["queued"]) == (7, 4, 3, 4)
        assert d["failed"] == 0 and prog["article_broadcast"]["targeted"] == 1


async def test_everyone_gets_one_broadcast_per_oa_and_outcomes_finish_the_campaign(infra, topic_prefix):
    async with running_news(infra, topic_prefix, dm_max_attempts=2) as h:
        users = [follower(o.key, unique("u"), active_hours_ago=2, now=h.now) for o in REGISTRY.oas[:3]]
        await h.seed(users)
        campaign_id = await h.create_and_approve(campaign_body())
        cmds = await h.wait_commands(
            lambda c: len(c.broadcasts(campaign_id)) == 18 and len(c.dms(campaign_id)) == 3, "all commands"
        )
        per_oa = Counter(c.oa_id for c in cmds.broadcasts(campaign_id))
        assert set(per_oa) == {o.oa_id for o in REGISTRY.oas} and set(per_oa.values()) == {1}
        assert len({c.command_id for c in cmds.broadcasts(campaign_id)}) == 18

        # The egress answers: broadcasts sent except two: one refused (-224), one that certainly did not go out
        # (Zalo down before the broadcast call: retryable); one message fails retryably then succeeds.
        *ok, down, last = cmds.broadcasts(campaign_id)
        for b in ok:
            await h.send_outcome(outcome_for(b, article_id="a1"))
        await h.send_outcome(outcome_for(last, "failed", reason="other", zalo_error=-224))
        await h.send_outcome(outcome_for(down, "failed", reason="transient", retryable=True))
        first, *rest = cmds.dms(campaign_id)
        for dm in rest:
            await h.send_outcome(outcome_for(dm))
        await h.send_outcome(outcome_for(first, "failed", reason="rate_limited", zalo_error=-32, retryable=True))

        cmds = await h.wait_commands(
            lambda c: len(c.dms(campaign_id)) == 4 and len(c.broadcasts(campaign_id)) == 19, "the retries"
        )
        retry = cmds.dms(campaign_id)[-1]
        assert retry.user_id == first.user_id and retry.command_id != first.command_id
        await h.send_outcome(outcome_for(retry))
        again = cmds.broadcasts(campaign_id)[-1]
        assert again.oa_id == down.oa_id and again.command_id != down.command_id and again.article == down.article
        await h.send_outcome(outcome_for(again, article_id="a2"))

        await h.wait_state(campaign_id, "finished")
        status, prog = await h.call("GET", f"/api/v1/campaigns/{campaign_id}/progress", EDITOR)
        assert status == 200
        assert prog["direct_messages"]["sent"] == 3 and prog["direct_messages"]["in_flight"] == 0
        assert prog["article_broadcast"]["sent"] == 17
        assert prog["article_broadcast"]["failed_by_code"] == {"-224": 1}
        no_second = await h.commands()
        assert len(no_second.broadcasts(campaign_id)) == 19, "a refused broadcast is never repeated"

        events = await _lifecycle(h, lambda es: any(e.change == "finished" for e in es))
        assert [e.change for e in events if e.change != "progress"] == ["created", "approved", "started", "finished"]
        assert any(e.change == "progress" and e.direct_messages.reachable == 3 for e in events)
        finished = next(e for e in events if e.change == "finished")
        assert finished.direct_messages.sent == 3 and finished.article_broadcasts.failed == 1

        # "Tin mới nhất" now answers with this campaign.
        await h.send_intent(intent("tanphu", users[0]["user_id"], "latest"))
        cmds = await h.wait_commands(
            lambda c: any(x.lane == "conversation" for x in c.by_action("send")), "the latest-news reply"
        )
        reply = next(x for x in cmds.by_action("send") if x.lane == "conversation")
        assert reply.message is not None and reply.message.text.startswith("Tin mới nhất: Cảnh báo thủ đoạn")
        assert reply.context["campaign_id"] == campaign_id


async def test_unfollow_during_a_campaign_stops_that_recipient(infra, topic_prefix):
    async with running_news(infra, topic_prefix, max_campaign_sends_per_s=2.0) as h:
        seeded = [follower("tanphu", unique("u"), active_hours_ago=1, now=h.now) for _ in range(8)]
        await h.seed(seeded)
        body = campaign_body(channels={"article": False, "direct": True})
        campaign_id = await h.create_and_approve(body)
        # Records are sent in delivery-id order: the last one is sent last.
        order = sorted(seeded, key=lambda d: domain.delivery_id(campaign_id, d["oa_id"], d["user_id"]))
        leaving = order[-1]["user_id"]
        await h.wait_commands(lambda c: len(c.dms(campaign_id)) >= 1, "the fan-out to start")
        await h.send_event(zalo_event("tanphu", leaving, "unfollow", ts=h.now))
        await h.wait_state(campaign_id, "running")

        async def stream_done():
            return ((await h.fanout(campaign_id)).get("dm") or {}).get("stream_done")

        await poll_until(stream_done, "the fan-out to end", 30)
        sent_to = {c.user_id for c in (await h.settled_commands()).dms(campaign_id)}
        assert leaving not in sent_to and len(sent_to) == 7
        status, prog = await h.call("GET", f"/api/v1/campaigns/{campaign_id}/progress", EDITOR)
        assert status == 200
        assert prog["direct_messages"]["skipped_by_reason"] == {"unfollowed": 1}


async def test_pause_resume_and_cancel(infra, topic_prefix):
    async with running_news(infra, topic_prefix, max_campaign_sends_per_s=4.0) as h:
        await h.seed([follower("csgt", unique("u"), active_hours_ago=1, now=h.now) for _ in range(30)])
        campaign_id = await h.create_and_approve(campaign_body(channels={"article": False, "direct": True}))
        path = f"/api/v1/campaigns/{campaign_id}"
        await h.wait_commands(lambda c: len(c.dms(campaign_id)) >= 2, "some messages")
        status, paused = await h.call("POST", path + "/pause", SUPERVISOR)
        assert status == 200 and paused["state"] == "paused"
        frozen = len((await h.settled_commands(quiet=1.5)).dms(campaign_id))
        await asyncio.sleep(1.0)
        assert len((await h.settled_commands()).dms(campaign_id)) == frozen, "nothing is produced while paused"
        status, resumed = await h.call("POST", path + "/resume", SUPERVISOR)
        assert status == 200 and resumed["state"] == "running"
        await h.wait_commands(lambda c: len(c.dms(campaign_id)) >= frozen + 3, "sending again")
        status, cancelled = await h.call("POST", path + "/cancel", SUPERVISOR)
        assert status == 200 and cancelled["state"] == "cancelled"
        stopped = len((await h.settled_commands(quiet=1.5)).dms(campaign_id))
        await asyncio.sleep(1.0)
        dms = (await h.settled_commands()).dms(campaign_id)
        assert len(dms) == stopped < 30
        assert len({c.command_id for c in dms}) == len(dms), "no recipient twice across pause and resume"


def _later(h) -> str:
    return (h.now + timedelta(days=1)).isoformat()


async def _lifecycle(h, pred) -> list[BroadcastLifecycle]:
    reader = TopicReader(infra_bootstrap(h), h.settings.topic(NEWS_BROADCASTS))
    await reader.start()
    try:

        async def check():
            events = [BroadcastLifecycle.model_validate_json(r.value) for r in await reader.poll()]
            return events if pred(events) else None

        return await poll_until(check, "lifecycle events", 20)
    finally:
        await reader.stop()


def infra_bootstrap(h) -> str:
    return h.settings.kafka_bootstrap
