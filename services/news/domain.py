"""Pure rules of the news service: campaigns, targeting, messaging windows, the subscriber registry.

No I/O, no clock: `now` is always passed in. Facts about Zalo come from shared/zalo-oa-api.md:
- [C] customer-service (CS) messages reach a citizen only within 7 days of their last interaction
  (-230 after); the first 48 h are free, the rest is billed (§4.1);
- [C] CS text is capped at 2,000 characters (§3.2, §8);
- [U] article title < 150 and description < 300 characters: 150 was rejected live (§6.5);
- [C] a broadcast can only carry an article and targets by province/age/gender/platform, never by
  ward (§6.5): ward-level news reaches the ward OA's followers by broadcast and everyone else of
  the ward only through CS messages inside the window;
- [C] tags are auto-created by `tagfollower` (§6.3): ward membership is mirrored as "Phường <ward>".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts import (
    Article,
    ArticleBlock,
    BroadcastLifecycle,
    BroadcastTarget,
    Button,
    ChannelProgress,
    Message,
    NewsPreference,
    citizen_key,
)
from servicekit.ids import derived_id
from servicekit.registry import OfficialAccount, Registry
from servicekit.text import fold

# --- Zalo limits ------------------------------------------------------------------------------
TEXT_MAX = 2000
TITLE_MAX = 149
SUMMARY_MAX = 299
BUTTON_TITLE_MAX = 100
TAG_MAX = 100

# --- Citizen-facing text (Vietnamese) ---------------------------------------------------------
BTN_READ = "Xem chi tiết"
BTN_UNSUBSCRIBE = "Ngừng nhận tin"
# The intent service's command payload for "stop news" (services/intent/texts.py Cmd.NEWS_UNSUBSCRIBE).
PAYLOAD_UNSUBSCRIBE = "#tin-huy"
READ_MORE_LINE = "Xem chi tiết: {link}"
LINK_ONLY_BODY = "Xem chi tiết tại: {link}"
LATEST_PREFIX = "Tin mới nhất: "
NO_NEWS_YET = "Dạ, hiện chưa có tin mới nào ạ. Khi Công an có thông báo, em sẽ gửi đến Anh/Chị qua kênh Zalo này ạ."
TAG_FORMAT = "Phường {ward}"

ROLE_EDITOR = "editor"
ROLE_SUPERVISOR = "supervisor"

SkipReason = Literal["unfollowed", "opted_out", "window_closed", "cancelled", "not_reachable", "expired", "other"]


# --- Campaign input -----------------------------------------------------------------------------
class Target(BaseModel):
    """Who a campaign is for. Criteria combine with AND; `everyone` stands alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    everyone: bool = False
    oa_keys: list[str] = Field(default_factory=list, description="Followers of these OAs (registry keys).")
    wards: list[str] = Field(default_factory=list, description="Followers of these wards (old names work too).")
    topics: list[str] = Field(default_factory=list, description="Followers whose topic preferences allow these.")


class Channels(BaseModel):
    """How a campaign is delivered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    article: bool = Field(default=True, description="Create the article on each targeted OA and broadcast it.")
    direct: bool = Field(default=True, description="CS messages to targeted followers inside the window.")
    allow_billed: bool = Field(default=False, description="Use the billed 48 h–7 d part of the window too.")


class Block(BaseModel):
    """One block of the article body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text", "image"]
    content: str | None = None
    url: str | None = None
    caption: str | None = None


class CampaignSpec(BaseModel):
    """What an editor writes. Parsed leniently; `validate_spec` gives the field errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = ""
    summary: str = ""
    cover_url: str | None = None
    body: list[Block] = Field(default_factory=list)
    link: str | None = None
    dm_text: str | None = Field(default=None, description="Text of the direct message; default: title + summary.")
    target: Target = Field(default_factory=Target)
    channels: Channels = Field(default_factory=Channels)
    send_at: datetime | None = Field(default=None, description="When to start; absent = as soon as approved.")


def _https(url: str | None) -> bool:
    return bool(url) and url.lower().startswith("https://") and len(url) > len("https://")


def validate_spec(spec: CampaignSpec, registry: Registry, now: datetime, tolerance: timedelta) -> dict[str, str]:
    """Field → message for everything Zalo or the editors' rules would reject (empty when valid)."""
    errors: dict[str, str] = {}
    title, summary = spec.title.strip(), spec.summary.strip()
    if not title:
        errors["title"] = "required"
    elif len(title) > TITLE_MAX:
        errors["title"] = f"{len(title)} characters; Zalo accepts fewer than {TITLE_MAX + 1}"
    if not summary:
        errors["summary"] = "required"
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = f"{len(summary)} characters; Zalo accepts fewer than {SUMMARY_MAX + 1}"
    if spec.cover_url is not None and not _https(spec.cover_url):
        errors["cover_url"] = "must be an https:// URL"
    elif spec.channels.article and not spec.cover_url:
        errors["cover_url"] = "required for an article (Zalo needs a cover photo)"
    for i, block in enumerate(spec.body):
        if block.type == "image" and not _https(block.url):
            errors[f"body[{i}].url"] = "image URL must be https://"
        if block.type == "text" and not (block.content or "").strip():
            errors[f"body[{i}].content"] = "text block is empty"
    if spec.link is not None and not _https(spec.link):
        errors["link"] = "must be an https:// URL"
    elif spec.channels.direct and not spec.link:
        errors["link"] = "required for direct messages (they point to it)"
    if spec.channels.article and not spec.body and not spec.link:
        errors["body"] = "an article needs a body or a link"
    if not spec.channels.article and not spec.channels.direct:
        errors["channels"] = "choose at least one channel"
    custom = bool(spec.dm_text and spec.dm_text.strip())
    if spec.channels.direct and (custom or not ({"title", "summary"} & errors.keys())):
        text = dm_text(spec)
        if len(text) > TEXT_MAX:
            errors["dm_text" if custom else "summary"] = (
                f"the direct message would be {len(text)} characters; Zalo accepts at most {TEXT_MAX}"
            )
    errors.update(target_errors(spec.target, spec.channels, registry))
    if spec.send_at is not None:
        if spec.send_at.tzinfo is None:
            errors["send_at"] = "must include a timezone"
        elif spec.send_at < now - tolerance:
            errors["send_at"] = "is in the past"
    return errors


def target_errors(target: Target, channels: Channels, registry: Registry) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (target.everyone or target.oa_keys or target.wards or target.topics):
        errors["target"] = "choose everyone, OAs, wards or topics"
        return errors
    if target.everyone and (target.oa_keys or target.wards or target.topics):
        errors["target"] = "everyone cannot be combined with other criteria"
        return errors
    known = {o.key for o in registry.oas}
    unknown_oas = [k for k in target.oa_keys if k not in known]
    if unknown_oas:
        errors["target.oa_keys"] = "unknown OA: " + ", ".join(unknown_oas)
    unknown_wards = [w for w in target.wards if canonical_ward(w, registry) is None]
    if unknown_wards:
        errors["target.wards"] = "unknown ward: " + ", ".join(unknown_wards)
    if any(not topic_key(t) for t in target.topics):
        errors["target.topics"] = "empty topic"
    if not errors and channels.article and not channels.direct and not broadcast_oas(target, registry):
        errors["target"] = "no OA to publish the article on for these wards; enable direct messages"
    return errors


# --- Campaign lifecycle -------------------------------------------------------------------------
STATES = ("draft", "approved", "running", "paused", "finished", "cancelled")
ACTIVE_STATES = ("approved", "running")
FINAL_STATES = ("finished", "cancelled")


class InvalidTransition(Exception):
    """The campaign's state does not allow the action (409)."""


class Forbidden(Exception):
    """The caller may not do this (403)."""


_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({"draft"}), "approved"),
    "start": (frozenset({"approved"}), "running"),
    "pause": (frozenset({"approved", "running"}), "paused"),
    "resume": (frozenset({"paused"}), "running"),
    "cancel": (frozenset({"draft", "approved", "running", "paused"}), "cancelled"),
    "finish": (frozenset({"running"}), "finished"),
}


def sources_of(action: str) -> frozenset[str]:
    """The states an action may start from."""
    return _TRANSITIONS[action][0]


def next_state(state: str, action: str, *, started: bool = False) -> str:
    """The state after `action`, or InvalidTransition. A resumed campaign that never started waits again."""
    sources, target = _TRANSITIONS[action]
    if state not in sources:
        raise InvalidTransition(f"cannot {action} a campaign that is {state}")
    if action == "resume" and not started:
        return "approved"
    return target


def authorize(action: str, *, role: str, sub: str, author: str, editors: list[str], state: str) -> None:
    """Role rules and four eyes: a supervisor never approves a campaign they wrote or edited."""
    if role not in (ROLE_EDITOR, ROLE_SUPERVISOR):
        raise Forbidden(f"role {role!r} has no access to campaigns")
    if action in ("create", "edit", "read"):
        return
    if action == "cancel" and role == ROLE_EDITOR and state == "draft" and sub == author:
        return
    if role != ROLE_SUPERVISOR:
        raise Forbidden(f"only a supervisor may {action} a campaign")
    if action == "approve" and (sub == author or sub in editors):
        raise Forbidden("four eyes: the approver must not be the author or an editor of the campaign")


# --- Targeting ----------------------------------------------------------------------------------
def topic_key(topic: str) -> str:
    """Topic names compare without case, diacritics or spacing: "Giao thông" → "giao-thong"."""
    return fold(topic).replace(" ", "-")


def ward_key(ward: str) -> str:
    return fold(ward).removeprefix("phuong ").strip()


def canonical_ward(name: str, registry: Registry) -> str | None:
    """The ward as the registry spells it (a ward OA, a current ward or an old ward), else None."""
    wanted = ward_key(name)
    if not wanted:
        return None
    for o in registry.oas:
        if o.ward and ward_key(o.ward) == wanted:
            return o.ward
    if registry.mergers is not None:
        for w in registry.mergers.new_wards:
            if ward_key(w) == wanted:
                return w
        for old in registry.mergers.old_to_new:
            if ward_key(old) == wanted:
                return old
    return None


def ward_keys(wards: list[str], registry: Registry) -> set[str]:
    """The ward keys a ward target covers: each ward, plus every old ward merged (wholly or partly) into
    it, because citizens of an old ward keep following its OA for years."""
    keys: set[str] = set()
    for w in wards:
        canonical = canonical_ward(w, registry)
        if canonical is None:
            continue
        key = ward_key(canonical)
        keys.add(key)
        if registry.mergers is not None:
            for old, new in registry.mergers.old_to_new.items():
                if any(ward_key(n) == key for n in new):
                    keys.add(ward_key(old))
    return keys


def broadcast_oas(target: Target, registry: Registry) -> list[OfficialAccount]:
    """The OAs the article is created on and broadcast from: the targeted OAs, else the OAs of the
    targeted wards, else all. Broadcasts reach every follower of the OA (Zalo has no ward or topic
    targeting), so topic preferences and opt-outs shape only the direct channel."""
    if target.oa_keys:
        return [o for o in registry.oas if o.key in set(target.oa_keys)]
    if target.wards:
        keys = ward_keys(target.wards, registry)
        return [o for o in registry.oas if o.ward and ward_key(o.ward) in keys]
    return list(registry.oas)


def audience_filter(target: Target, registry: Registry) -> dict[str, Any]:
    """MongoDB filter of the followers a target covers (see `matches` for the same rule in Python)."""
    query: dict[str, Any] = {"following": True, "opted_out": {"$ne": True}}
    if target.everyone:
        return query
    if target.oa_keys:
        query["oa_id"] = {"$in": sorted(o.oa_id for o in registry.oas if o.key in set(target.oa_keys))}
    if target.wards:
        query["ward_key"] = {"$in": sorted(ward_keys(target.wards, registry))}
    if target.topics:
        topics = sorted({topic_key(t) for t in target.topics})
        query["$or"] = [{"topics": {"$size": 0}}, {"topics": {"$in": topics}}]
        query["muted_topics"] = {"$nin": topics}
    return query


def reachable_filter(target: Target, registry: Registry, cutoff: datetime) -> dict[str, Any]:
    """The audience whose last interaction is at or after `cutoff`."""
    return {**audience_filter(target, registry), "last_interaction_at": {"$gte": cutoff}}


# --- Messaging windows ------------------------------------------------------------------------
def dm_window(channels: Channels, free_h: float, billed_h: float) -> timedelta:
    """The part of the 7-day window a campaign may use: 48 h free, or up to 7 days when billed."""
    return timedelta(hours=billed_h if channels.allow_billed else free_h)


def window_closes(last_interaction: datetime, window: timedelta) -> datetime:
    return last_interaction + window


def is_reachable(last_interaction: datetime | None, now: datetime, window: timedelta) -> bool:
    return last_interaction is not None and last_interaction >= now - window


def send_decision(closes_at: datetime, now: datetime, suppressed: str | None) -> str | None:
    """Why a planned direct message must not be sent now (a skip reason), or None to send it."""
    if suppressed:
        return suppressed
    if now >= closes_at:
        return "window_closed"
    return None


# --- The subscriber registry --------------------------------------------------------------------
@dataclass(frozen=True)
class Subscriber:
    """One follower of one OA (Zalo user ids are OA-scoped)."""

    oa_id: str
    user_id: str
    following: bool = False
    membership_ms: int = -1  # Zalo timestamp of the follow/unfollow this state reflects
    oa_ward: str | None = None  # the ward of the OA, when it is a ward OA
    chosen_ward: str | None = None  # the citizen's own choice (news intent)
    ward: str | None = None  # effective: chosen, else the OA's
    previous_ward: str | None = None
    ward_changed_by: str | None = None  # event id of the last ward change (its tag commands are re-derived)
    topics: tuple[str, ...] = ()  # empty: every topic
    muted_topics: tuple[str, ...] = ()
    opted_out: bool = False
    last_interaction_at: datetime | None = None
    followed_at: datetime | None = None
    unfollowed_at: datetime | None = None
    last_event_id: str | None = None
    v: int = 0

    @property
    def key(self) -> str:
        return citizen_key(self.oa_id, self.user_id)


@dataclass(frozen=True)
class TagOp:
    """A Zalo tag change mirroring ward membership."""

    action: Literal["tag_user", "untag_user"]
    tag_name: str


@dataclass(frozen=True)
class SubscriberChange:
    """What an event does to a subscriber: the state to write (if any), tag commands, suppressions."""

    subscriber: Subscriber
    write: bool
    tags: tuple[TagOp, ...] = ()
    suppress: tuple[str, ...] = ()
    release: tuple[str, ...] = ()
    ignored: str | None = None  # why nothing happened (stale, unknown ward …), for metrics


def tag_name(ward: str) -> str:
    return TAG_FORMAT.format(ward=ward)[:TAG_MAX]


def tag_ops(previous: str | None, current: str | None) -> tuple[TagOp, ...]:
    if previous == current:
        return ()
    ops: list[TagOp] = []
    if previous:
        ops.append(TagOp("untag_user", tag_name(previous)))
    if current:
        ops.append(TagOp("tag_user", tag_name(current)))
    return tuple(ops)


def _with_ward(s: Subscriber, ward: str | None, event_id: str) -> tuple[Subscriber, tuple[TagOp, ...]]:
    if ward == s.ward:
        return s, ()
    return replace(s, ward=ward, previous_ward=s.ward, ward_changed_by=event_id), tag_ops(s.ward, ward)


def _replayed(s: Subscriber, event_id: str, suppress: tuple[str, ...], release: tuple[str, ...]) -> SubscriberChange:
    """A redelivered event: its write is done; its commands are derived again (same ids, deduplicated)."""
    tags = tag_ops(s.previous_ward, s.ward) if s.ward_changed_by == event_id else ()
    return SubscriberChange(s, write=False, tags=tags, suppress=suppress, release=release, ignored="replayed")


def on_follow(
    current: Subscriber | None,
    *,
    oa_id: str,
    user_id: str,
    oa_ward: str | None,
    ts_ms: int,
    event_id: str,
    now: datetime,
) -> SubscriberChange:
    """A follow (webhook or follower sync). Older than the membership we hold: ignored."""
    base = current or Subscriber(oa_id=oa_id, user_id=user_id)
    if current is not None and current.last_event_id == event_id:
        return _replayed(current, event_id, (), ("unfollowed",) if current.following else ())
    if ts_ms < base.membership_ms:
        return SubscriberChange(base, write=False, ignored="stale")
    s = replace(
        base,
        following=True,
        membership_ms=ts_ms,
        oa_ward=oa_ward,
        followed_at=base.followed_at if base.following and base.followed_at else now,
        last_event_id=event_id,
    )
    s, tags = _with_ward(s, s.chosen_ward or oa_ward, event_id)
    return SubscriberChange(s, write=True, tags=tags, release=("unfollowed",))


def on_unfollow(
    current: Subscriber | None, *, oa_id: str, user_id: str, ts_ms: int, event_id: str, now: datetime
) -> SubscriberChange:
    """An unfollow: honoured at once (suppression marker checked by running campaigns)."""
    base = current or Subscriber(oa_id=oa_id, user_id=user_id)
    if current is not None and current.last_event_id == event_id:
        return _replayed(current, event_id, () if current.following else ("unfollowed",), ())
    if ts_ms < base.membership_ms:
        return SubscriberChange(base, write=False, ignored="stale")
    s = replace(base, following=False, membership_ms=ts_ms, unfollowed_at=now, last_event_id=event_id)
    return SubscriberChange(s, write=True, suppress=("unfollowed",))


def on_preference(
    current: Subscriber | None,
    pref: NewsPreference,
    *,
    oa_id: str,
    user_id: str,
    registry: Registry,
    event_id: str,
) -> SubscriberChange:
    """A news preference from the intent service (the `latest` action changes nothing here)."""
    base = current or Subscriber(oa_id=oa_id, user_id=user_id)
    opted = ("opted_out",)
    if current is not None and current.last_event_id == event_id:
        return _replayed(current, event_id, opted if current.opted_out else (), () if current.opted_out else opted)
    if pref.action == "latest":
        return SubscriberChange(base, write=False, ignored="latest")
    topics = [topic_key(t) for t in pref.topics if topic_key(t)]
    s = replace(base, last_event_id=event_id)
    suppress: tuple[str, ...] = ()
    release: tuple[str, ...] = ()
    tags: tuple[TagOp, ...] = ()
    ward = canonical_ward(pref.ward, registry) if pref.ward else None
    if pref.ward and ward is None and pref.action == "change_ward":
        return SubscriberChange(base, write=False, ignored="unknown_ward")
    if pref.action == "subscribe":
        s = replace(
            s,
            opted_out=False,
            topics=tuple(sorted(set(s.topics) | set(topics))) if topics else s.topics,
            muted_topics=tuple(t for t in s.muted_topics if t not in topics),
        )
        release = opted
    elif pref.action == "unsubscribe":
        if topics:
            s = replace(
                s,
                topics=tuple(t for t in s.topics if t not in topics),
                muted_topics=tuple(sorted(set(s.muted_topics) | set(topics))),
            )
        else:
            s = replace(s, opted_out=True)
            suppress = opted
    if ward is not None and pref.action in ("subscribe", "change_ward"):
        s = replace(s, chosen_ward=ward)
        s, tags = _with_ward(s, ward, event_id)
    return SubscriberChange(s, write=True, tags=tags, suppress=suppress, release=release)


def matches(target: Target, registry: Registry, s: Subscriber) -> bool:
    """`audience_filter` as a predicate: does the target cover this subscriber?"""
    if not s.following or s.opted_out:
        return False
    if target.everyone:
        return True
    if target.oa_keys and s.oa_id not in {o.oa_id for o in registry.oas if o.key in set(target.oa_keys)}:
        return False
    if target.wards and (s.ward is None or ward_key(s.ward) not in ward_keys(target.wards, registry)):
        return False
    if target.topics:
        topics = {topic_key(t) for t in target.topics}
        if s.topics and not topics & set(s.topics):
            return False
        if topics & set(s.muted_topics):
            return False
    return True


def visible_to(target: Target, registry: Registry, s: Subscriber | None, oa_id: str) -> bool:
    """Is a finished campaign news for this citizen (the `latest` answer)? Followers matching the
    target, or, for a citizen we know nothing about, campaigns broadcast on their OA."""
    if s is not None and s.following and matches(target, registry, replace(s, opted_out=False)):
        return True
    return oa_id in {o.oa_id for o in broadcast_oas(target, registry)}


# --- Messages -----------------------------------------------------------------------------------
def dm_text(spec: CampaignSpec) -> str:
    if spec.dm_text and spec.dm_text.strip():
        text = spec.dm_text.strip()
    else:
        text = f"{spec.title.strip()}\n\n{spec.summary.strip()}"
    if spec.link:
        text += "\n\n" + READ_MORE_LINE.format(link=spec.link)
    return text


def dm_message(spec: CampaignSpec) -> Message:
    """The direct message: short text with the link, a button to read it and one to stop news."""
    buttons = [Button(title=BTN_READ, kind="url", payload=spec.link)] if spec.link else []
    buttons.append(Button(title=BTN_UNSUBSCRIBE, kind="query", payload=PAYLOAD_UNSUBSCRIBE))
    return Message(text=dm_text(spec), buttons=buttons)


def article_for(spec: CampaignSpec, oa: OfficialAccount) -> Article:
    """The article created on one OA (author = the OA's name, as citizens know it)."""
    if spec.body:
        body = [ArticleBlock(type=b.type, content=b.content, url=b.url, caption=b.caption) for b in spec.body]
    else:
        body = [
            ArticleBlock(type="text", content=spec.summary.strip()),
            ArticleBlock(type="text", content=LINK_ONLY_BODY.format(link=spec.link)),
        ]
    return Article(
        title=spec.title.strip(),
        description=spec.summary.strip(),
        author=oa.display_name[:100],
        cover_url=spec.cover_url or "",
        body=body,
    )


def broadcast_target(city_codes: list[int]) -> BroadcastTarget:
    return BroadcastTarget(cities=list(city_codes))


def latest_message(spec: CampaignSpec | None) -> Message:
    """The answer to "tin mới nhất": the latest finished campaign's summary, or that there is none."""
    if spec is None:
        return Message(text=NO_NEWS_YET)
    text = f"{LATEST_PREFIX}{spec.title.strip()}\n\n{spec.summary.strip()}"
    if spec.link:
        text += "\n\n" + READ_MORE_LINE.format(link=spec.link)
    buttons = [Button(title=BTN_READ, kind="url", payload=spec.link)] if spec.link else []
    return Message(text=text[:TEXT_MAX], buttons=buttons)


# --- Deterministic ids --------------------------------------------------------------------------
def delivery_id(campaign_id: str, oa_id: str, user_id: str) -> str:
    """The unique key of one (campaign, recipient); ordered within a campaign for the resumable stream."""
    return f"{campaign_id}.dm.{derived_id('news-recipient', oa_id, user_id)}"


def article_delivery_id(campaign_id: str, oa_id: str) -> str:
    return f"{campaign_id}.article.{oa_id}"


def dm_command_id(campaign_id: str, oa_id: str, user_id: str, attempt: int) -> str:
    return derived_id("news-dm", campaign_id, oa_id, user_id, attempt)


def article_command_id(campaign_id: str, oa_id: str, attempt: int = 1) -> str:
    """One broadcast command per OA per campaign and attempt. A further attempt exists only when the egress
    reported that the broadcast certainly did not happen (a retryable outcome)."""
    if attempt == 1:
        return derived_id("news-article", campaign_id, oa_id)
    return derived_id("news-article", campaign_id, oa_id, attempt)


def tag_command_id(event_id: str, op: TagOp, oa_id: str, user_id: str) -> str:
    return derived_id("news-tag", event_id, op.action, op.tag_name, oa_id, user_id)


# --- Outcomes -----------------------------------------------------------------------------------
def classify_outcome(status: str, retryable: bool, attempt: int, max_attempts: int) -> str:
    """The delivery's next status: sent, skipped, retry (tried again later) or failed."""
    if status == "sent":
        return "sent"
    if status == "skipped":
        return "skipped"
    if retryable and attempt < max_attempts:
        return "retry"
    return "failed"


def skip_reason_of(outcome_reason: str) -> str:
    """The egress's reason for not attempting (not_after passed → the window closed)."""
    return "window_closed" if outcome_reason in ("expired", "window_closed") else outcome_reason


# --- Progress -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CountRow:
    """One group of delivery records: kind, status, reason, Zalo code, where it was skipped."""

    kind: str
    status: str
    reason: str | None
    code: int | None
    stage: str | None
    n: int


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    failed_by_code: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    retrying: int = 0
    answered: int = 0  # produced commands with an outcome (final or retry)


def _tally(rows: list[CountRow], kind: str) -> _Tally:
    t = _Tally()
    for r in rows:
        if r.kind != kind:
            continue
        if r.status == "sent":
            t.sent += r.n
            t.answered += r.n
        elif r.status == "failed":
            t.failed += r.n
            t.answered += r.n
            code = str(r.code) if r.code is not None else (r.reason or "other")
            t.failed_by_code[code] = t.failed_by_code.get(code, 0) + r.n
        elif r.status == "skipped":
            reason = r.reason or "other"
            t.skipped_by_reason[reason] = t.skipped_by_reason.get(reason, 0) + r.n
            if r.stage == "outcome":
                t.answered += r.n
        elif r.status in ("retry", "requeued"):
            t.retrying += r.n
    return t


def progress(campaign: dict[str, Any], rows: list[CountRow], rate_cap: float) -> dict[str, Any]:
    """Per-channel progress of a campaign document plus the grouped delivery counts."""
    plan, dm, articles = campaign.get("plan") or {}, campaign.get("dm") or {}, campaign.get("articles") or {}
    a = _tally(rows, "article")
    oa_ids = articles.get("oa_ids") or []
    produced = len(articles.get("produced") or [])
    article = {
        "targeted": len(oa_ids),
        "reachable": len(oa_ids),
        "queued": produced,
        "sent": a.sent,
        "failed": a.failed,
        "failed_by_code": a.failed_by_code,
        "skipped": sum(a.skipped_by_reason.values()),
        "skipped_by_reason": a.skipped_by_reason,
        "in_flight": max(0, produced - a.answered),
    }
    d = _tally(rows, "dm")
    targeted, reachable = int(plan.get("targeted") or 0), int(plan.get("reachable") or 0)
    queued = int(dm.get("queued") or 0)
    skipped_at_send = sum(int(v) for v in (dm.get("skipped") or {}).values())
    remaining = 0 if dm.get("stream_done") else max(0, reachable - queued - skipped_at_send)
    rate = float(dm.get("rate_per_s") or 0.0)
    eta = remaining / (rate or rate_cap) if remaining else 0.0
    direct = {
        "targeted": targeted,
        "reachable": reachable,
        "not_reachable_directly": max(0, targeted - reachable),
        "queued": queued,
        "sent": d.sent,
        "failed": d.failed,
        "failed_by_code": d.failed_by_code,
        "skipped": sum(d.skipped_by_reason.values()),
        "skipped_by_reason": d.skipped_by_reason,
        "retrying": d.retrying,
        "in_flight": max(0, queued - d.answered),
        "remaining": remaining,
        "rate_per_s": round(rate, 2),
        "eta_s": round(eta, 1),
        "planned": bool(plan.get("done")),
    }
    return {"article_broadcast": article, "direct_messages": direct}


CHANGE_OF_ACTION = {
    "approve": "approved",
    "start": "started",
    "pause": "paused",
    "resume": "resumed",
    "cancel": "cancelled",
    "finish": "finished",
}


def _channel(p: dict[str, Any] | None) -> ChannelProgress:
    p = p or {}
    return ChannelProgress(
        targeted=int(p.get("targeted", 0)),
        reachable=int(p.get("reachable", 0)),
        sent=int(p.get("sent", 0)),
        failed=int(p.get("failed", 0)),
        skipped=int(p.get("skipped", 0)),
    )


def lifecycle_event(
    campaign_id: str, change: str, seq: object, now: datetime, oa_ids: list[str], prog: dict[str, Any] | None
) -> BroadcastLifecycle:
    """A news.broadcasts.v1 record; its id derives from (campaign, change, seq) so re-publishing is harmless."""
    prog = prog or {}
    event_id = derived_id("news-lifecycle", campaign_id, change, seq)
    return BroadcastLifecycle(
        event_id=event_id,
        occurred_at=now,
        producer="news",
        correlation_id=campaign_id,
        campaign_id=campaign_id,
        change=change,  # type: ignore[arg-type]
        oa_ids=oa_ids,
        article_broadcasts=_channel(prog.get("article_broadcast")),
        direct_messages=_channel(prog.get("direct_messages")),
    )


# --- Rate -------------------------------------------------------------------------------------
class TokenBucket:
    """Commands per second with a small burst; time is passed in (monotonic seconds)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else rate)
        self._tokens = self.capacity
        self._at: float | None = None

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, now: float, want: int) -> int:
        """Take up to `want` whole tokens; how many were granted (0 when empty)."""
        self._refill(now)
        granted = min(want, int(self._tokens))
        self._tokens -= granted
        return granted

    def refund(self, n: int) -> None:
        """Give back tokens taken but not used."""
        self._tokens = min(self.capacity, self._tokens + n)

    def wait_s(self, now: float) -> float:
        """Seconds until one token is available."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
