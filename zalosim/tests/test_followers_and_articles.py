"""Followers, tags, articles and the article broadcast, as the news service would use them."""

from zalosim.tests.support import Sim, random_user_id

COVER = {"cover_type": "photo", "photo_url": "https://cdn.example/cover.jpg", "status": "show"}


def _article(title: str = "Cảnh báo lừa đảo qua mạng") -> dict:
    return {
        "type": "normal",
        "title": title,
        "author": "Công an quận Tân Phú",
        "description": "Thủ đoạn mới giả danh công an",
        "cover": COVER,
        "body": [{"type": "text", "content": "Người dân cảnh giác..."}],
        "status": "show",
    }


def _broadcast(article_id: str) -> dict:
    element = {"media_type": "article", "attachment_id": article_id}
    return {
        "recipient": {"target": {"gender": "0", "cities": "4"}},
        "message": {"attachment": {"type": "template", "payload": {"template_type": "media", "elements": [element]}}},
    }


async def test_getlist_caps_and_paging_over_seeded_followers(sim: Sim) -> None:
    seeded = await sim.control(
        "POST", "/_sim/followers/seed", {"oa_key": "tanphu", "count": 120, "active_share": 0.5, "tag_name": "P1"}
    )
    assert seeded["added"] == 120 and seeded["followers"] == 120

    assert (await sim.get("/v3.0/oa/user/getlist", {"offset": 0, "count": 51}))["message"] == "count is invalid"
    assert (await sim.get("/v3.0/oa/user/getlist", {"offset": 9952, "count": 50}))["message"] == "offset is invalid"

    seen: list[str] = []
    for offset in (0, 50, 100):
        page = (await sim.get("/v3.0/oa/user/getlist", {"offset": offset, "count": 50, "is_follower": "true"}))["data"]
        assert page["total"] == 120 and page["offset"] == offset
        seen += [user["user_id"] for user in page["users"]]
    assert len(seen) == len(set(seen)) == 120
    assert seen[:10] == seeded["sample_user_ids"]

    tagged = (await sim.get("/v3.0/oa/user/getlist", {"offset": 0, "count": 50, "tag_name": "P1"}))["data"]
    assert tagged["total"] == 120
    recent = await sim.get("/v3.0/oa/user/getlist", {"offset": 0, "count": 50, "last_interaction_period": "L7D"})
    assert 0 < recent["data"]["total"] < 120


async def test_non_followers_who_messaged_are_listed_unless_filtered(sim: Sim) -> None:
    follower, chatter = random_user_id(), random_user_id()
    await sim.citizen("tanphu", follower, "follow")
    await sim.citizen("tanphu", chatter, "text", text="hỏi chút")
    everyone = (await sim.get("/v3.0/oa/user/getlist", {"offset": 0, "count": 50}))["data"]
    assert {u["user_id"] for u in everyone["users"]} == {follower, chatter}
    followers = (await sim.get("/v3.0/oa/user/getlist", {"offset": 0, "count": 50, "is_follower": True}))["data"]
    assert [u["user_id"] for u in followers["users"]] == [follower]
    await sim.citizen("tanphu", follower, "unfollow")
    after = await sim.get("/v3.0/oa/user/getlist", {"offset": 0, "count": 5, "is_follower": True})
    assert after["data"]["total"] == 0


async def test_tags_are_auto_created_and_removable(sim: Sim) -> None:
    user = random_user_id()
    await sim.citizen("tanphu", user, "follow")
    assert (await sim.post("/v2.0/oa/tag/tagfollower", {"user_id": user, "tag_name": "Phường Sơn Kỳ"}))["error"] == 0
    assert (await sim.get("/v2.0/oa/tag/gettagsofoa"))["data"] == ["Phường Sơn Kỳ"]
    [tag] = (await sim.control("GET", "/_sim/tags?oa_key=tanphu"))["items"]
    assert tag == {"oa_key": "tanphu", "tag_name": "Phường Sơn Kỳ", "count": 1, "user_ids": [user]}

    removed = await sim.post("/v2.0/oa/tag/rmfollowerfromtag", {"user_id": int(user), "tag_name": "Phường Sơn Kỳ"})
    assert removed["error"] == 0
    assert (await sim.post("/v2.0/oa/tag/rmtag", {"tag_name": "Phường Sơn Kỳ"}))["error"] == 0
    assert (await sim.get("/v2.0/oa/tag/gettagsofoa"))["data"] == []
    assert (await sim.post("/v2.0/oa/tag/rmtag", {"tag_name": "Phường Sơn Kỳ"}))["error"] == -201


async def test_article_create_verify_broadcast(sim: Sim) -> None:
    await sim.control("POST", "/_sim/followers/seed", {"oa_key": "tanphu", "count": 30})
    created = await sim.post("/v2.0/article/create", _article())
    token = created["data"]["token"]
    polls = [await sim.post("/v2.0/article/verify", {"token": token}) for _ in range(3)]
    assert [poll["error"] for poll in polls] == [-214, -214, 0]
    assert polls[0]["message"] == "Article is being processed"
    article_id = polls[2]["data"]["id"]

    sent = await sim.post("/v2.0/oa/message", _broadcast(article_id))
    assert sent["error"] == 0 and sent["data"]["message_id"]
    [broadcast] = (await sim.control("GET", "/_sim/broadcasts?oa_key=tanphu"))["items"]
    assert broadcast["article_ids"] == [article_id]
    assert broadcast["recipients"] == 30
    assert broadcast["titles"] == ["Cảnh báo lừa đảo qua mạng"]
    [article] = (await sim.control("GET", "/_sim/articles?oa_key=tanphu"))["items"]
    assert article["verified"] is True and article["verify_polls"] == 3


async def test_article_validation_and_v2_rules(sim: Sim) -> None:
    assert (await sim.post("/v2.0/article/create", _article("x" * 150)))["message"] == "title is invalid"
    no_cover = _article() | {"cover": {"cover_type": "photo", "photo_url": "http://not-https/c.jpg"}}
    assert (await sim.post("/v2.0/article/create", no_cover))["message"] == "cover value is invalid"
    text_v2 = {"recipient": {"user_id": random_user_id()}, "message": {"text": "hello"}}
    assert (await sim.post("/v2.0/oa/message", text_v2))["error"] == -240
    assert (await sim.post("/v2.0/oa/message", _broadcast("nope")))["message"] == "attachment_id is invalid"
