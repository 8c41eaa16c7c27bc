"""The subscriber registry through the real broker and FerretDB: follows, interactions, preferences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicekit.testing import poll_until, unique
from services.news import domain
from services.news.tests.support import intent, oa, running_news, zalo_event

pytestmark = pytest.mark.integration


async def test_follow_unfollow_sync_and_last_interaction(infra, topic_prefix):
    async with running_news(infra, topic_prefix) as h:
        subs = h.db["subscribers"]
        user, synced = unique("u"), unique("u")
        t0 = h.now - timedelta(minutes=10)
        await h.send_event(zalo_event("tanphu", user, "follow", ts=t0))
        await h.send_event(zalo_event("tanphu", synced, "follow", ts=t0, sync=True))
        # Inbound events out of order: the latest time wins; a receipt is not an interaction.
        await h.send_event(zalo_event("tanphu", user, "user_send_text", ts=t0 + timedelta(minutes=5)))
        await h.send_event(zalo_event("tanphu", user, "user_send_image", ts=t0 + timedelta(minutes=2)))
        key = f"{oa('tanphu').oa_id}:{user}"

        async def interacted():
            d = await subs.find_one({"_id": key})
            latest = t0 + timedelta(minutes=5) - timedelta(seconds=1)
            done = d and d.get("following") and d.get("last_interaction_at") and d["last_interaction_at"] >= latest
            return d if done else None

        doc = await poll_until(interacted, "follow and interactions recorded")
        assert abs(doc["last_interaction_at"] - (t0 + timedelta(minutes=5))) < timedelta(seconds=1)
        synced_doc = await poll_until(
            lambda: subs.find_one({"_id": f"{oa('tanphu').oa_id}:{synced}"}), "the synced follower"
        )
        assert synced_doc["following"] is True and synced_doc.get("last_interaction_at") is None

        await h.send_event(zalo_event("tanphu", user, "unfollow", ts=t0 + timedelta(minutes=6)))
        await poll_until(lambda: subs.find_one({"_id": key, "following": False}), "unfollow honoured", 15)
        assert await h.db["suppressions"].find_one({"_id": f"unfollowed:{key}"}), "running campaigns learn at once"

        # A late, older follow does not undo the newer unfollow.
        await h.send_event(zalo_event("tanphu", user, "follow", ts=t0 + timedelta(minutes=1)))
        marker = unique("u")
        await h.send_event(zalo_event("tanphu", marker, "follow", ts=t0))
        await poll_until(lambda: subs.find_one({"_id": f"{oa('tanphu').oa_id}:{marker}"}), "later event handled")
        assert (await subs.find_one({"_id": key}))["following"] is False

        # Following again lifts the marker.
        await h.send_event(zalo_event("tanphu", user, "follow", ts=t0 + timedelta(minutes=7)))
        await poll_until(lambda: subs.find_one({"_id": key, "following": True}), "re-follow")
        await poll_until(lambda: _none(h.db["suppressions"].find_one({"_id": f"unfollowed:{key}"})), "marker removed")


async def test_ward_membership_is_mirrored_to_zalo_tags(infra, topic_prefix):
    async with running_news(infra, topic_prefix) as h:
        ward_follower, district_follower = unique("u"), unique("u")
        await h.send_event(zalo_event("sonky", ward_follower, "follow", ts=h.now))
        await h.send_event(zalo_event("tanphu", district_follower, "follow", ts=h.now))
        await h.send_intent(intent("tanphu", district_follower, "change_ward", ward="phường tây thạnh"))

        def tagged(cmds):
            return len(cmds.by_action("tag_user")) >= 2

        cmds = await h.wait_commands(tagged, "tag commands")
        tags = {(c.oa_id, c.user_id, c.tag_name) for c in cmds.by_action("tag_user")}
        assert (oa("sonky").oa_id, ward_follower, "Phường Sơn Kỳ") in tags
        assert (oa("tanphu").oa_id, district_follower, "Phường Tây Thạnh") in tags
        assert all(c.lane == "campaign" for c in cmds.by_action("tag_user"))

        await h.send_intent(intent("tanphu", district_follower, "change_ward", ward="Hiệp Tân"))
        cmds = await h.wait_commands(lambda c: c.by_action("untag_user"), "untag of the old ward")
        (untag,) = cmds.by_action("untag_user")
        assert (untag.user_id, untag.tag_name) == (district_follower, "Phường Tây Thạnh")
        doc = await h.db["subscribers"].find_one({"_id": f"{oa('tanphu').oa_id}:{district_follower}"})
        assert doc["ward"] == "Hiệp Tân" and doc["ward_key"] == "hiep tan" and doc["chosen_ward"] == "Hiệp Tân"

        await h.send_intent(intent("tanphu", district_follower, "unsubscribe"))
        await poll_until(
            lambda: h.db["subscribers"].find_one({"_id": doc["_id"], "opted_out": True}), "opt-out recorded"
        )
        assert await h.db["suppressions"].find_one({"_id": f"opted_out:{doc['_id']}"})


async def test_latest_without_news_answers_in_the_conversation_lane(infra, topic_prefix):
    async with running_news(infra, topic_prefix) as h:
        user = unique("u")
        await h.send_intent(intent("sonky", user, "latest"))
        cmds = await h.wait_commands(lambda c: c.by_action("send"), "the latest-news reply")
        (reply,) = cmds.by_action("send")
        assert reply.lane == "conversation" and reply.user_id == user
        assert reply.message is not None and reply.message.text == domain.NO_NEWS_YET


async def _none(awaitable):
    return (await awaitable) is None
