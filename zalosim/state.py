"""The simulator's in-memory world: users per OA, tokens, articles, media, journals, rate counter.

Pure and synchronous: no I/O, no clock reads (``now`` is passed in). Per-user state is columnar
(arrays indexed by a per-OA user number) so that half a million seeded followers stay compact.
"""

import bisect
import itertools
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from zalosim import rules
from zalosim.ids import IdSource
from zalosim.media import AVATAR_MEDIA_ID, PHOTO_MEDIA_ID, STICKER_MEDIA_ID, placeholder_png
from zalosim.registry import Registry

_NEVER = math.nan
_SELECT_CACHE_SIZE = 8


@dataclass(slots=True)
class UserExtras:
    """Rarely present per-user data, kept out of the columns."""

    display_name: str | None = None
    shared_info: dict[str, Any] | None = None


class UserTable:
    """The users one OA knows (followers and people who messaged it), in arrival order."""

    def __init__(self) -> None:
        self._index: dict[int, int] = {}
        self._ids = array("q")
        self._last = array("d")  # epoch seconds of the last interaction; NaN = never
        self._follower = bytearray()  # 1 = currently follows the OA
        self._tags: dict[str, set[int]] = {}
        self._extras: dict[int, UserExtras] = {}
        self._version = 0
        self._select_cache: dict[tuple[Any, ...], array] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def find(self, user_id: str) -> int | None:
        return self._index.get(int(user_id))

    def ensure(self, user_id: str) -> int:
        key = int(user_id)
        index = self._index.get(key)
        if index is None:
            index = len(self._ids)
            self._index[key] = index
            self._ids.append(key)
            self._last.append(_NEVER)
            self._follower.append(0)
            self._version += 1
        return index

    def add_many(self, user_ids: Iterable[int], last_interactions: Iterable[float], follower: bool) -> int:
        """Bulk insert of new users (existing ids are skipped); returns how many were added."""
        added = 0
        flag = 1 if follower else 0
        for key, last in zip(user_ids, last_interactions, strict=True):
            if key in self._index:
                continue
            self._index[key] = len(self._ids)
            self._ids.append(key)
            self._last.append(last)
            self._follower.append(flag)
            added += 1
        self._version += 1
        return added

    def user_id(self, index: int) -> str:
        return str(self._ids[index])

    def last_interaction(self, index: int) -> float | None:
        value = self._last[index]
        return None if math.isnan(value) else value

    def set_last_interaction(self, index: int, when: float | None) -> None:
        self._last[index] = _NEVER if when is None else when
        self._version += 1

    def is_follower(self, index: int) -> bool:
        return self._follower[index] == 1

    def set_follower(self, index: int, following: bool) -> None:
        self._follower[index] = 1 if following else 0
        self._version += 1

    def follower_count(self) -> int:
        return self._follower.count(1)

    def extras(self, index: int) -> UserExtras:
        return self._extras.setdefault(index, UserExtras())

    def peek_extras(self, index: int) -> UserExtras | None:
        return self._extras.get(index)

    # -- tags (§6.3) --------------------------------------------------------------------------

    def tag(self, index: int, tag_name: str) -> None:
        """Tag a user; the tag is created when missing (Zalo auto-creates, §6.3)."""
        self._tags.setdefault(tag_name, set()).add(index)
        self._version += 1

    def tag_range(self, indices: range, tag_name: str) -> None:
        self._tags.setdefault(tag_name, set()).update(indices)
        self._version += 1

    def untag(self, index: int, tag_name: str) -> bool:
        members = self._tags.get(tag_name)
        if members is None:
            return False
        members.discard(index)
        self._version += 1
        return True

    def drop_tag(self, tag_name: str) -> bool:
        existed = self._tags.pop(tag_name, None) is not None
        self._version += 1
        return existed

    def has_tag(self, tag_name: str) -> bool:
        return tag_name in self._tags

    def tag_names(self) -> list[str]:
        return list(self._tags)

    def tags_of(self, index: int) -> list[str]:
        return [name for name, members in self._tags.items() if index in members]

    def tag_members(self, tag_name: str) -> list[int]:
        return sorted(self._tags.get(tag_name, ()))

    # -- listing (§6.2) -----------------------------------------------------------------------

    def select(self, tag_name: str | None, bounds: tuple[float, float] | None, is_follower: bool | None) -> array:
        """User numbers matching the getlist filters, in arrival order (cached until the next change)."""
        bounds_key = None if bounds is None else (int(bounds[0] // 60), int(bounds[1] // 60))
        key = (tag_name, bounds_key, is_follower, self._version)
        cached = self._select_cache.get(key)
        if cached is not None:
            return cached
        candidates: Iterable[int] = (
            sorted(self._tags.get(tag_name, ())) if tag_name is not None else range(len(self._ids))
        )
        if is_follower is not None:
            wanted, flags = (1 if is_follower else 0), self._follower
            candidates = [i for i in candidates if flags[i] == wanted]
        if bounds is not None:
            low, high = bounds
            last = self._last
            candidates = [i for i in candidates if low <= last[i] < high]  # NaN never matches
        result = array("q", candidates)
        if len(self._select_cache) >= _SELECT_CACHE_SIZE:
            self._select_cache.clear()
        self._select_cache[key] = result
        return result


# ---------------------------------------------------------------------------------------------
# OAuth tokens (§5)
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class AccessToken:
    oa_key: str
    expires_at: float
    revoked: bool = False


@dataclass(slots=True)
class RefreshToken:
    oa_key: str
    expires_at: float
    access_token: str
    used: bool = False


@dataclass(slots=True)
class AuthCode:
    oa_key: str
    expires_at: float
    code_challenge: str | None
    used: bool = False


@dataclass(frozen=True, slots=True)
class TokenPair:
    oa_key: str
    access_token: str
    refresh_token: str
    expires_in: int


class TokenStore:
    def __init__(self, ids: IdSource) -> None:
        self._ids = ids
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}

    def mint(self, oa_key: str, now: float, ttl: int) -> TokenPair:
        access, refresh = self._ids.token(), self._ids.token()
        self.access[access] = AccessToken(oa_key=oa_key, expires_at=now + ttl)
        self.refresh[refresh] = RefreshToken(
            oa_key=oa_key, expires_at=now + rules.REFRESH_TOKEN_TTL_SECONDS, access_token=access
        )
        return TokenPair(oa_key=oa_key, access_token=access, refresh_token=refresh, expires_in=ttl)

    def resolve(self, access_token: str | None, now: float) -> str:
        """The OA key behind an access token; -216 when unknown, -220 when expired or revoked."""
        token = self.access.get(access_token) if access_token else None
        if token is None:
            raise rules.ZaloApiError(rules.Code.TOKEN_INVALID)
        if token.revoked or now >= token.expires_at:
            raise rules.ZaloApiError(rules.Code.TOKEN_EXPIRED)
        return token.oa_key

    def rotate(self, refresh_token: str, now: float, ttl: int) -> TokenPair:
        """Single-use refresh: the old refresh token dies, and so does the access token minted with
        it ([U] §5 rotation side effect)."""
        current = self.refresh.get(refresh_token)
        if current is None or current.used or now >= current.expires_at:
            raise rules.OAuthError(rules.OAuthCode.INVALID_REFRESH_TOKEN, "refresh_token is invalid or used")
        current.used = True
        previous = self.access.get(current.access_token)
        if previous is not None:
            previous.revoked = True
        return self.mint(current.oa_key, now, ttl)

    def issue_code(self, oa_key: str, now: float, code_challenge: str | None) -> str:
        code = self._ids.token(64)
        self.codes[code] = AuthCode(
            oa_key=oa_key, expires_at=now + rules.AUTH_CODE_TTL_SECONDS, code_challenge=code_challenge
        )
        return code

    def redeem_code(self, code: str, verifier_ok: Callable[[str | None], bool], now: float, ttl: int) -> TokenPair:
        grant = self.codes.get(code)
        if grant is None or grant.used or now >= grant.expires_at or not verifier_ok(grant.code_challenge):
            raise rules.OAuthError(rules.OAuthCode.INVALID_CODE, "code is invalid, expired or used")
        grant.used = True
        return self.mint(grant.oa_key, now, ttl)

    def expire_oa(self, oa_key: str, now: float) -> int:
        """Expire every live access token of an OA now; returns how many."""
        expired = 0
        for token in self.access.values():
            if token.oa_key == oa_key and not token.revoked and token.expires_at > now:
                token.expires_at = now
                expired += 1
        return expired

    def summary(self, now: float) -> dict[str, dict[str, Any]]:
        """Per OA: how many access and refresh tokens are alive, and the latest access expiry."""
        out: dict[str, dict[str, Any]] = {}

        def entry(oa_key: str) -> dict[str, Any]:
            return out.setdefault(
                oa_key, {"live_access_tokens": 0, "live_refresh_tokens": 0, "latest_access_expiry_ms": None}
            )

        for token in self.access.values():
            if not token.revoked and token.expires_at > now:
                item = entry(token.oa_key)
                item["live_access_tokens"] += 1
                expiry_ms = int(token.expires_at * 1000)
                item["latest_access_expiry_ms"] = max(item["latest_access_expiry_ms"] or 0, expiry_ms)
        for refresh in self.refresh.values():
            if not refresh.used and refresh.expires_at > now:
                entry(refresh.oa_key)["live_refresh_tokens"] += 1
        return out


# ---------------------------------------------------------------------------------------------
# Articles, media, journals, rate limit, webhook target
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Article:
    article_id: str
    oa_key: str
    token: str
    draft: rules.ArticleDraft
    created_at: float
    polls_before_ready: int
    polls: int = 0
    verified_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "oa_key": self.oa_key,
            "token": self.token,
            "title": self.draft.title,
            "description": self.draft.description,
            "author": self.draft.author,
            "cover_url": self.draft.cover_url,
            "status": self.draft.status,
            "comment": self.draft.comment,
            "body": self.draft.body,
            "created_at_ms": int(self.created_at * 1000),
            "verify_polls": self.polls,
            "verified": self.verified_at is not None,
        }


@dataclass(frozen=True, slots=True)
class Media:
    content_type: str
    data: bytes
    name: str | None = None


class RecordLog:
    """An append-only journal with a global sequence number, capped to the newest ``cap`` records."""

    def __init__(self, next_seq: Callable[[], int], cap: int) -> None:
        self._next_seq = next_seq
        self._cap = cap
        self._items: list[dict[str, Any]] = []
        self.total = 0

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        record["seq"] = self._next_seq()
        self._items.append(record)
        self.total += 1
        if len(self._items) > self._cap + max(self._cap // 10, 1):
            del self._items[: len(self._items) - self._cap]
        return record

    def query(
        self,
        since: int = 0,
        limit: int | None = None,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        start = bisect.bisect_right(self._items, since, key=lambda record: record["seq"])
        found: list[dict[str, Any]] = []
        for record in itertools.islice(self._items, start, None):
            if where is None or where(record):
                found.append(record)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def __len__(self) -> int:
        return len(self._items)


class FixedWindowLimiter:
    """One request counter per window, shared by every OA of the app (§4.4)."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._window = -1
        self._count = 0

    def _roll(self, now: float) -> None:
        window = int(now // self.window_seconds)
        if window != self._window:
            self._window, self._count = window, 0

    def hit(self, now: float) -> tuple[bool, int]:
        """Count one request; returns (allowed, remaining in this window)."""
        self._roll(now)
        self._count += 1
        return self._count <= self.limit, self.limit - self._count

    def remaining(self, now: float) -> int:
        self._roll(now)
        return self.limit - self._count

    def configure(self, limit: int | None = None, window_seconds: float | None = None) -> None:
        if limit is not None:
            self.limit = limit
        if window_seconds is not None:
            self.window_seconds = window_seconds
            self._window = -1


@dataclass(slots=True)
class WebhookTarget:
    url: str
    subscribed: bool = True
    unsubscribed_at: float | None = None


@dataclass(slots=True)
class Journals:
    calls: RecordLog
    messages: RecordLog
    broadcasts: RecordLog
    deliveries: RecordLog


class SimState:
    """Everything the simulator remembers. ``reset`` returns it to the state at start-up."""

    def __init__(
        self,
        registry: Registry,
        ids: IdSource,
        *,
        webhook_url: str,
        rate_limit: int,
        rate_window_seconds: float,
        max_records: int,
    ) -> None:
        self.registry = registry
        self.ids = ids
        self._defaults = (webhook_url, rate_limit, rate_window_seconds, max_records)
        self._init_world()

    def _init_world(self) -> None:
        webhook_url, rate_limit, rate_window_seconds, max_records = self._defaults
        self.last_seq = 0

        def next_seq() -> int:
            self.last_seq += 1
            return self.last_seq

        self.users: dict[str, UserTable] = {oa.key: UserTable() for oa in self.registry.oas}
        self.tokens = TokenStore(self.ids)
        self.articles_by_token: dict[str, Article] = {}
        self.articles_by_id: dict[str, Article] = {}
        self.attachments: dict[str, str] = {}  # upload attachment_id -> media id
        self.media: dict[str, Media] = {
            AVATAR_MEDIA_ID: Media("image/png", placeholder_png(120, 120, (0, 104, 255))),
            PHOTO_MEDIA_ID: Media("image/png", placeholder_png(64, 48, (190, 190, 190))),
            STICKER_MEDIA_ID: Media("image/png", placeholder_png(96, 96, (255, 196, 0))),
        }
        self.journals = Journals(
            calls=RecordLog(next_seq, max_records),
            messages=RecordLog(next_seq, max_records),
            broadcasts=RecordLog(next_seq, max_records),
            deliveries=RecordLog(next_seq, max_records),
        )
        self.rate = FixedWindowLimiter(rate_limit, rate_window_seconds)
        self.webhook = WebhookTarget(url=webhook_url)
        self.stats: Counter[str] = Counter()

    def reset(self, keep_tokens: bool = False) -> None:
        tokens = self.tokens
        self._init_world()
        if keep_tokens:
            self.tokens = tokens

    def add_media(self, media: Media) -> str:
        media_id = self.ids.short(24)
        self.media[media_id] = media
        return media_id
