"""The pure rules: targeting, windows, the campaign state machine, validation, the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts import NewsPreference
from servicekit.registry import load_registry
from services.news import domain
from services.news.domain import (
    CampaignSpec,
    Channels,
    CountRow,
    Forbidden,
    InvalidTransition,
    Subscriber,
    TagOp,
    Target,
)

pytestmark = pytest.mark.unit

R = load_registry()
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TOL = timedelta(seconds=60)
SONKY, TANPHU = R.by_key("sonky"), R.by_key("tanphu")


def spec(**kw) -> CampaignSpec:
    base = {
        "title": "Cảnh báo lừa đảo",
        "summary": "Tóm tắt ngắn.",
        "cover_url": "https://cdn.example.vn/c.jpg",
        "body": [{"type": "text", "content": "Nội dung."}],
        "link": "https://congan.example.vn/tin/1",
        "target": {"everyone": True},
    }
    base.update(kw)
    return CampaignSpec.model_validate(base)


def sub(**kw) -> Subscriber:
    base = {"oa_id": SONKY.oa_id, "user_id": "u1", "following": True, "ward": "Sơn Kỳ"}
    base.update(kw)
    return Subscriber(**base)


# --- targeting ----------------------------------------------------------------------------------
def test_ward_names_are_canonicalised_and_old_names_work():
    assert domain.canonical_ward("phường son ky", R) == "Sơn Kỳ"
    assert domain.canonical_ward("Tân Phú", R) == "Tân Phú"  # a current ward without its own OA
    assert domain.canonical_ward("Bến Nghé", R) is None


def test_a_current_ward_covers_the_old_wards_merged_into_it():
    assert domain.ward_keys(["Sơn Kỳ"], R) == {"son ky"}
    assert domain.ward_keys(["Tây Thạnh"], R) == {"tay thanh", "son ky"}
    assert domain.ward_keys(["Tân Phú"], R) == {"tan phu", "tan thanh", "tan thoi hoa", "phu trung", "hoa thanh"}


def test_broadcast_oas_follow_the_target():
    assert [o.key for o in domain.broadcast_oas(Target(wards=["Sơn Kỳ"]), R)] == ["sonky"]
    assert {o.key for o in domain.broadcast_oas(Target(wards=["Tây Thạnh"]), R)} == {"taythanh", "sonky"}
    assert [o.key for o in domain.broadcast_oas(Target(oa_keys=["csgt", "tanphu"]), R)] == ["tanphu", "csgt"]
    assert len(domain.broadcast_oas(Target(everyone=True), R)) == 18
    assert len(domain.broadcast_oas(Target(topics=["giao thông"]), R)) == 18


def test_audience_filter_shapes():
    assert domain.audience_filter(Target(everyone=True), R) == {"following": True, "opted_out": {"$ne": True}}
    f = domain.audience_filter(Target(oa_keys=["sonky"], wards=["Sơn Kỳ"], topics=["Giao thông"]), R)
    assert f["oa_id"] == {"$in": [SONKY.oa_id]}
    assert f["ward_key"] == {"$in": ["son ky"]}
    assert f["$or"] == [{"topics": {"$size": 0}}, {"topics": {"$in": ["giao-thong"]}}]
    assert f["muted_topics"] == {"$nin": ["giao-thong"]}
    cutoff = NOW - timedelta(hours=48)
    assert domain.reachable_filter(Target(everyone=True), R, cutoff)["last_interaction_at"] == {"$gte": cutoff}


def test_matches_mirrors_the_filter():
    t = Target(wards=["Tây Thạnh"])
    assert domain.matches(t, R, sub(ward="Sơn Kỳ"))  # old ward merged into Tây Thạnh
    assert not domain.matches(t, R, sub(ward="Hiệp Tân"))
    assert not domain.matches(t, R, sub(ward=None))
    assert not domain.matches(t, R, sub(following=False))
    assert not domain.matches(Target(everyone=True), R, sub(opted_out=True))
    topical = Target(topics=["giao-thong"])
    assert domain.matches(topical, R, sub(topics=()))
    assert domain.matches(topical, R, sub(topics=("giao-thong", "pccc")))
    assert not domain.matches(topical, R, sub(topics=("pccc",)))
    assert not domain.matches(topical, R, sub(muted_topics=("giao-thong",)))
    assert not domain.matches(Target(oa_keys=["tanphu"]), R, sub())


# --- windows ------------------------------------------------------------------------------------
def test_window_is_48h_free_or_7_days_when_billed():
    assert domain.dm_window(Channels(), 48, 168) == timedelta(hours=48)
    assert domain.dm_window(Channels(allow_billed=True), 48, 168) == timedelta(days=7)


def test_reachability_and_send_decision():
    w = timedelta(hours=48)
    assert domain.is_reachable(NOW - timedelta(hours=47), NOW, w)
    assert domain.is_reachable(NOW - w, NOW, w)
    assert not domain.is_reachable(NOW - timedelta(hours=49), NOW, w)
    assert not domain.is_reachable(None, NOW, w)
    closes = domain.window_closes(NOW - timedelta(hours=47), w)
    assert domain.send_decision(closes, NOW, None) is None
    assert domain.send_decision(closes, closes, None) == "window_closed"
    assert domain.send_decision(closes, NOW, "unfollowed") == "unfollowed"


# --- state machine and four eyes ------------------------------------------------------------
def test_state_machine_happy_path_and_invalid_moves():
    s = domain.next_state("draft", "approve")
    s = domain.next_state(s, "start")
    s = domain.next_state(s, "pause")
    assert s == "paused"
    assert domain.next_state(s, "resume", started=True) == "running"
    assert domain.next_state("paused", "resume", started=False) == "approved"
    assert domain.next_state("running", "finish") == "finished"
    for state, action in [("draft", "start"), ("finished", "cancel"), ("cancelled", "resume"), ("running", "approve")]:
        with pytest.raises(InvalidTransition):
            domain.next_state(state, action)


def test_four_eyes_and_roles():
    def ok(action, role, sub_, author="alice", editors=(), state="draft"):
        domain.authorize(action, role=role, sub=sub_, author=author, editors=list(editors), state=state)

    ok("create", "editor", "alice")
    ok("approve", "supervisor", "bob")
    ok("cancel", "editor", "alice")  # the author may drop a draft
    with pytest.raises(Forbidden):
        ok("approve", "editor", "bob")
    with pytest.raises(Forbidden, match="four eyes"):
        ok("approve", "supervisor", "alice")  # a supervisor who wrote it
    with pytest.raises(Forbidden, match="four eyes"):
        ok("approve", "supervisor", "carol", editors=["carol"])  # or edited it
    with pytest.raises(Forbidden):
        ok("pause", "editor", "alice", state="running")
    with pytest.raises(Forbidden):
        ok("cancel", "editor", "alice", state="approved")
    with pytest.raises(Forbidden):
        ok("read", "citizen", "x")


# --- validation ---------------------------------------------------------------------------------
def test_a_valid_campaign_has_no_errors():
    assert domain.validate_spec(spec(), R, NOW, TOL) == {}


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"title": "x" * 150}, "title", "fewer than 150"),
        ({"title": " "}, "title", "required"),
        ({"summary": "x" * 300}, "summary", "fewer than 300"),
        ({"cover_url": "http://cdn.example.vn/c.jpg"}, "cover_url", "https"),
        ({"cover_url": None}, "cover_url", "required"),
        ({"body": [{"type": "image", "url": "http://x.vn/a.jpg"}]}, "body[0].url", "https"),
        ({"body": [{"type": "text", "content": ""}]}, "body[0].content", "empty"),
        ({"link": None}, "link", "required for direct"),
        ({"link": "ftp://x"}, "link", "https"),
        ({"dm_text": "x" * 2001}, "dm_text", "2000"),
        ({"summary": "x" * 299, "title": "y" * 149, "link": "https://x.vn/" + "a" * 1600}, "summary", "2000"),
        ({"send_at": "2026-11-30T08:00:00+07:00"}, "send_at", "past"),
        ({"send_at": "2026-12-30T08:00:00"}, "send_at", "timezone"),
        ({"target": {}}, "target", "choose"),
        ({"target": {"everyone": True, "wards": ["Sơn Kỳ"]}}, "target", "cannot be combined"),
        ({"target": {"oa_keys": ["nope"]}}, "target.oa_keys", "unknown OA"),
        ({"target": {"wards": ["Bến Nghé"]}}, "target.wards", "unknown ward"),
        ({"channels": {"article": False, "direct": False}}, "channels", "at least one"),
    ],
)
def test_validation_errors(overrides, field, fragment):
    errors = domain.validate_spec(spec(**overrides), R, NOW, TOL)
    assert field in errors, errors
    assert fragment in errors[field]


def test_title_of_149_and_future_schedule_are_fine():
    ok = spec(title="x" * 149, summary="y" * 299, send_at="2026-12-01T08:00:00+07:00")
    assert domain.validate_spec(ok, R, NOW, TOL) == {}


def test_article_only_campaign_for_a_ward_without_oa_is_refused():
    s = spec(target={"wards": ["Tân Phú"]}, channels={"article": True, "direct": False})
    assert domain.validate_spec(s, R, NOW, TOL) == {}  # old ward OAs merged into Tân Phú carry it
    today = R.model_copy(update={"oas": [o for o in R.oas if o.kind != "ward"]})
    assert "no OA to publish" in domain.validate_spec(s, today, NOW, TOL)["target"]


# --- the registry -------------------------------------------------------------------------------
def test_follow_of_a_ward_oa_sets_the_ward_and_tags_it():
    c = domain.on_follow(None, oa_id=SONKY.oa_id, user_id="u1", oa_ward="Sơn Kỳ", ts_ms=10, event_id="e1", now=NOW)
    assert c.write and c.subscriber.following and c.subscriber.ward == "Sơn Kỳ"
    assert c.tags == (TagOp("tag_user", "Phường Sơn Kỳ"),)
    assert c.release == ("unfollowed",)
    replay = domain.on_follow(
        c.subscriber, oa_id=SONKY.oa_id, user_id="u1", oa_ward="Sơn Kỳ", ts_ms=10, event_id="e1", now=NOW
    )
    assert not replay.write and replay.tags == c.tags, "a redelivery re-derives the same tag commands"


def test_older_membership_events_are_ignored():
    s = sub(following=False, membership_ms=100)
    c = domain.on_follow(s, oa_id=s.oa_id, user_id="u1", oa_ward=None, ts_ms=50, event_id="e", now=NOW)
    assert not c.write and c.ignored == "stale"
    c = domain.on_unfollow(sub(membership_ms=100), oa_id=s.oa_id, user_id="u1", ts_ms=100, event_id="e2", now=NOW)
    assert c.write and not c.subscriber.following and c.suppress == ("unfollowed",)


def test_chosen_ward_wins_over_the_oa_ward_and_moves_the_tag():
    s = sub(oa_id=TANPHU.oa_id, ward=None)
    c = domain.on_preference(
        s,
        NewsPreference(action="change_ward", ward="phường tây thạnh"),
        oa_id=s.oa_id,
        user_id="u1",
        registry=R,
        event_id="i1",
    )
    assert c.subscriber.ward == "Tây Thạnh" and c.tags == (TagOp("tag_user", "Phường Tây Thạnh"),)
    c2 = domain.on_preference(
        c.subscriber,
        NewsPreference(action="change_ward", ward="Hiệp Tân"),
        oa_id=s.oa_id,
        user_id="u1",
        registry=R,
        event_id="i2",
    )
    assert c2.tags == (TagOp("untag_user", "Phường Tây Thạnh"), TagOp("tag_user", "Phường Hiệp Tân"))
    follow = domain.on_follow(
        c2.subscriber, oa_id=s.oa_id, user_id="u1", oa_ward="Sơn Kỳ", ts_ms=5, event_id="e", now=NOW
    )
    assert follow.subscriber.ward == "Hiệp Tân" and follow.tags == ()


def test_unknown_ward_is_ignored():
    c = domain.on_preference(
        None, NewsPreference(action="change_ward", ward="Atlantis"), oa_id="1", user_id="u", registry=R, event_id="i"
    )
    assert not c.write and c.ignored == "unknown_ward"


def test_opt_out_and_back_in_and_topics():
    c = domain.on_preference(
        sub(), NewsPreference(action="unsubscribe"), oa_id="1", user_id="u1", registry=R, event_id="a"
    )
    assert c.subscriber.opted_out and c.suppress == ("opted_out",)
    c = domain.on_preference(
        c.subscriber,
        NewsPreference(action="subscribe", topics=["Giao thông"]),
        oa_id="1",
        user_id="u1",
        registry=R,
        event_id="b",
    )
    assert not c.subscriber.opted_out and c.release == ("opted_out",) and c.subscriber.topics == ("giao-thong",)
    c = domain.on_preference(
        c.subscriber,
        NewsPreference(action="unsubscribe", topics=["giao thông"]),
        oa_id="1",
        user_id="u1",
        registry=R,
        event_id="c",
    )
    assert c.subscriber.topics == () and c.subscriber.muted_topics == ("giao-thong",) and not c.subscriber.opted_out


# --- messages and ids ---------------------------------------------------------------------------
def test_direct_message_carries_the_link_and_buttons():
    m = domain.dm_message(spec())
    assert m.text is not None and "https://congan.example.vn/tin/1" in m.text and len(m.text) <= domain.TEXT_MAX
    assert [b.kind for b in m.buttons] == ["url", "query"]
    assert m.buttons[1].payload == "#tin-huy"


def test_link_only_article_and_author():
    a = domain.article_for(spec(body=[]), SONKY)
    assert a.author == SONKY.display_name and "Xem chi tiết tại:" in (a.body[1].content or "")
    assert domain.broadcast_target([4]).cities == [4]


def test_latest_message_with_and_without_news():
    assert "chưa có tin mới" in (domain.latest_message(None).text or "")
    assert (domain.latest_message(spec()).text or "").startswith("Tin mới nhất: Cảnh báo lừa đảo")


def test_ids_are_deterministic_and_scoped():
    assert domain.article_command_id("c1", "1") == domain.article_command_id("c1", "1")
    assert domain.article_command_id("c1", "1") != domain.article_command_id("c1", "2")
    assert domain.dm_command_id("c1", "1", "u", 1) != domain.dm_command_id("c1", "1", "u", 2)
    d = domain.delivery_id("c1", "1", "u")
    assert d.startswith("c1.dm.") and "c1.dm." < d < "c1.dm/"


# --- outcomes, progress, rate -------------------------------------------------------------------
def test_outcome_classification():
    assert domain.classify_outcome("sent", False, 1, 3) == "sent"
    assert domain.classify_outcome("failed", True, 1, 3) == "retry"
    assert domain.classify_outcome("failed", True, 3, 3) == "failed"
    assert domain.classify_outcome("failed", False, 1, 3) == "failed"
    assert domain.classify_outcome("skipped", False, 1, 3) == "skipped"
    assert domain.skip_reason_of("expired") == "window_closed"


def test_progress_counts_per_channel():
    campaign = {
        "plan": {"targeted": 100, "reachable": 20, "done": True},
        "dm": {"queued": 15, "skipped": {"unfollowed": 1}, "rate_per_s": 5.0},
        "articles": {"oa_ids": ["1", "2"], "produced": ["1", "2"]},
    }
    rows = [
        CountRow("dm", "sent", "ok", None, "outcome", 10),
        CountRow("dm", "failed", "window_closed", -230, "outcome", 2),
        CountRow("dm", "skipped", "unfollowed", None, "send", 1),
        CountRow("dm", "pending", None, None, None, 7),
        CountRow("article", "sent", "ok", None, "outcome", 1),
    ]
    p = domain.progress(campaign, rows, 30.0)
    d, a = p["direct_messages"], p["article_broadcast"]
    assert d["not_reachable_directly"] == 80 and d["sent"] == 10 and d["failed_by_code"] == {"-230": 2}
    assert d["skipped_by_reason"] == {"unfollowed": 1} and d["in_flight"] == 3 and d["remaining"] == 4
    assert d["eta_s"] == pytest.approx(0.8)
    assert a["targeted"] == 2 and a["sent"] == 1 and a["in_flight"] == 1
    event = domain.lifecycle_event("c1", "progress", 1, NOW, ["1", "2"], p)
    assert event.direct_messages.reachable == 20 and event.article_broadcasts.sent == 1


def test_token_bucket():
    b = domain.TokenBucket(rate=10, burst=10)
    assert b.take(0.0, 25) == 10
    assert b.take(0.0, 1) == 0
    assert b.wait_s(0.0) == pytest.approx(0.1)
    assert b.take(0.5, 25) == 5
    b.refund(3)
    assert b.take(0.5, 25) == 3
