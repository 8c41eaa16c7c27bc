"""What each simulated Zalo endpoint does to the world, independent of HTTP.

Every operation takes an ``ApiCall`` (state, calling OA, time, media base URL) plus the request
payload, applies the rules from ``rules.py``, and returns an ``Outcome``: the response body and the
webhook echoes to push. Failures raise ``rules.ZaloApiError`` / ``rules.OAuthError``.
"""

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zalosim import events, rules
from zalosim.ids import user_id_by_app
from zalosim.media import AVATAR_MEDIA_ID, media_url
from zalosim.registry import OaEntry
from zalosim.state import Article, Media, SimState, UserTable


@dataclass(frozen=True, slots=True)
class ApiCall:
    state: SimState
    oa: OaEntry
    now: float
    media_base: str
    article_verify_polls: int

    @property
    def users(self) -> UserTable:
        return self.state.users[self.oa.key]

    def event_context(self, user_id: str) -> events.EventContext:
        app_id = self.state.registry.app_id
        return events.EventContext(
            app_id=app_id,
            oa_id=self.oa.oa_id,
            user_id=user_id,
            user_id_by_app=user_id_by_app(app_id, user_id),
            timestamp=rules.epoch_ms_string(self.now),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    body: dict[str, Any]
    user_id: str | None = None
    echoes: tuple[dict[str, Any], ...] = ()


def parse_data_param(raw: str | None) -> Any:
    """GET endpoints take one URL-encoded JSON parameter ``data`` (§3.1)."""
    if raw is None:
        raise rules.invalid("data")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise rules.invalid("data") from exc


# -- messaging ----------------------------------------------------------------------------------


def send_cs(call: ApiCall, body: Any) -> Outcome:
    """POST /v3.0/oa/message/cs (§3.2, §4.1)."""
    recipient = body.get("recipient") if isinstance(body, dict) else None
    if not isinstance(recipient, dict):
        raise rules.invalid("recipient")
    user_id = rules.parse_user_id(recipient.get("user_id"))
    message = rules.parse_cs_message(body.get("message"))
    users = call.users
    index = users.find(user_id)
    quota_type = rules.cs_quota_type(None if index is None else users.last_interaction(index), call.now)
    image_url = message.image_url
    if message.attachment_id is not None:
        media_id = call.state.attachments.get(message.attachment_id)
        if media_id is None:
            raise rules.invalid("attachment_id")
        image_url = media_url(call.media_base, media_id)
    message_id = call.state.ids.message_id()
    sent_ms = int(call.now * 1000)
    call.state.journals.messages.append(
        {
            "message_id": message_id,
            "oa_key": call.oa.key,
            "oa_id": call.oa.oa_id,
            "user_id": user_id,
            "type": str(message.kind),
            "text": message.text,
            "buttons": [button.as_dict() for button in message.buttons],
            "image_url": image_url,
            "attachment_id": message.attachment_id,
            "elements": list(message.elements),
            "quote_message_id": message.quote_message_id,
            "quota_type": str(quota_type),
            "sent_time_ms": sent_ms,
        }
    )
    call.state.stats[f"messages.{quota_type}"] += 1
    ctx = call.event_context(user_id)
    if message.kind is rules.CsKind.IMAGE:
        echo = events.oa_send_image(ctx, message_id, image_url or "", message.text)
    elif message.kind is rules.CsKind.REQUEST_USER_INFO:
        echo = events.oa_send_list(ctx, message_id, list(message.elements))
    else:
        echo = events.oa_send_text(ctx, message_id, message.text or "")
    data = {
        "message_id": message_id,
        "user_id": user_id,
        "sent_time": str(sent_ms),
        "quota": rules.cs_quota(quota_type, call.oa.oa_id),
    }
    return Outcome(rules.success_body(data), user_id=user_id, echoes=(echo,))


def send_v2_message(call: ApiCall, body: Any) -> Outcome:
    """POST /v2.0/oa/message: the article broadcast to followers (§6.5); anything else -240."""
    request = rules.parse_v2_message(body)
    articles: list[Article] = []
    for article_id in request.article_ids:
        article = call.state.articles_by_id.get(article_id)
        if article is None or article.oa_key != call.oa.key:
            raise rules.invalid("attachment_id")
        articles.append(article)
    message_id = call.state.ids.message_id()
    recipients = call.users.follower_count()
    call.state.journals.broadcasts.append(
        {
            "message_id": message_id,
            "oa_key": call.oa.key,
            "oa_id": call.oa.oa_id,
            "article_ids": list(request.article_ids),
            "titles": [article.draft.title for article in articles],
            "target": request.target,
            "recipients": recipients,
            "sent_time_ms": int(call.now * 1000),
        }
    )
    call.state.stats["broadcasts"] += 1
    call.state.stats["broadcast_recipients"] += recipients
    return Outcome(rules.success_body({"message_id": message_id}))


def upload_image(call: ApiCall, data: bytes, filename: str | None) -> Outcome:
    """POST /v2.0/oa/upload/image (§6.4): PNG/JPEG up to 1 MB, answers ``attachment_id``."""
    content_type = rules.check_upload_image(data)
    media_id = call.state.add_media(Media(content_type=content_type, data=data, name=filename))
    attachment_id = call.state.ids.token(64)
    call.state.attachments[attachment_id] = media_id
    return Outcome(rules.success_body({"attachment_id": attachment_id}))


# -- users ----------------------------------------------------------------------------------------


def _known_user(call: ApiCall, raw_user_id: Any) -> tuple[str, int]:
    """[U] A user id the OA has never seen answers -201 "user_id is invalid"."""
    user_id = rules.parse_user_id(raw_user_id)
    index = call.users.find(user_id)
    if index is None:
        raise rules.invalid("user_id")
    return user_id, index


def user_detail(call: ApiCall, raw_data: str | None) -> Outcome:
    """GET /v3.0/oa/user/detail (§6.2)."""
    data = parse_data_param(raw_data)
    user_id, index = _known_user(call, data.get("user_id") if isinstance(data, dict) else None)
    users = call.users
    extras = users.peek_extras(index)
    last = users.last_interaction(index)
    avatar = media_url(call.media_base, AVATAR_MEDIA_ID)
    detail: dict[str, Any] = {
        "user_id": user_id,
        "user_id_by_app": user_id_by_app(call.state.registry.app_id, user_id),
        "user_external_id": "",
        "display_name": (extras.display_name if extras and extras.display_name else f"Người dùng {user_id[-4:]}"),
        "user_alias": "",
        "is_sensitive": False,
        "user_last_interaction_date": rules.format_interaction_date(last) if last is not None else "",
        "user_is_follower": users.is_follower(index),
        "avatar": avatar,
        "avatars": {"120": avatar, "240": avatar},
        "tags_and_notes_info": {"notes": [], "tag_names": users.tags_of(index)},
    }
    if extras and extras.shared_info:
        detail["shared_info"] = extras.shared_info
    return Outcome(rules.success_body(detail), user_id=user_id)


def user_getlist(call: ApiCall, raw_data: str | None) -> Outcome:
    """GET /v3.0/oa/user/getlist (§6.2): count ≤ 50, offset ≤ 9951, filters."""
    query = rules.parse_getlist(parse_data_param(raw_data), call.now)
    bounds = rules.period_bounds(query.period, call.now) if query.period else None
    users = call.users
    matching = users.select(query.tag_name, bounds, query.is_follower)
    page = matching[query.offset : query.offset + query.count]
    return Outcome(rules.success_body(rules.getlist_data(len(matching), query, [users.user_id(i) for i in page])))


# -- tags -----------------------------------------------------------------------------------------


def tag_follower(call: ApiCall, body: Any) -> Outcome:
    """POST /v2.0/oa/tag/tagfollower: the tag is created when missing (§6.3)."""
    if not isinstance(body, dict):
        raise rules.invalid("body")
    tag_name = rules.parse_tag_name(body)
    user_id, index = _known_user(call, body.get("user_id"))
    call.users.tag(index, tag_name)
    return Outcome(rules.success_body(), user_id=user_id)


def remove_follower_from_tag(call: ApiCall, body: Any) -> Outcome:
    if not isinstance(body, dict):
        raise rules.invalid("body")
    tag_name = rules.parse_tag_name(body)
    user_id, index = _known_user(call, body.get("user_id"))
    if not call.users.untag(index, tag_name):
        raise rules.invalid("tag_name")
    return Outcome(rules.success_body(), user_id=user_id)


def remove_tag(call: ApiCall, body: Any) -> Outcome:
    if not call.users.drop_tag(rules.parse_tag_name(body)):
        raise rules.invalid("tag_name")
    return Outcome(rules.success_body())


def tags_of_oa(call: ApiCall) -> Outcome:
    """GET /v2.0/oa/tag/gettagsofoa: a flat list of names (§6.3)."""
    return Outcome(rules.success_body(call.users.tag_names()))


# -- articles -------------------------------------------------------------------------------------


def article_create(call: ApiCall, body: Any) -> Outcome:
    """POST /v2.0/article/create: answers a job token, not the article id (§6.5)."""
    draft = rules.parse_article(body)
    state = call.state
    article = Article(
        article_id=state.ids.article_id(),
        oa_key=call.oa.key,
        token=state.ids.token(48),
        draft=draft,
        created_at=call.now,
        polls_before_ready=call.article_verify_polls,
    )
    state.articles_by_token[article.token] = article
    state.articles_by_id[article.article_id] = article
    return Outcome(rules.success_body({"token": article.token}))


def article_verify(call: ApiCall, body: Any) -> Outcome:
    """POST /v2.0/article/verify: -214 while "processing", then the article id (§6.5)."""
    token = body.get("token") if isinstance(body, dict) else None
    article = call.state.articles_by_token.get(token) if isinstance(token, str) else None
    if article is None or article.oa_key != call.oa.key:
        raise rules.invalid("token")
    article.polls += 1
    if article.polls <= article.polls_before_ready:
        raise rules.ZaloApiError(rules.Code.ARTICLE_PROCESSING)
    if article.verified_at is None:
        article.verified_at = call.now
    return Outcome(rules.success_body({"id": article.article_id}))


# -- OAuth v4 -------------------------------------------------------------------------------------


def oauth_access_token(
    state: SimState,
    form: Mapping[str, str],
    secret_key: str | None,
    *,
    app_secret: str,
    now: float,
    ttl: int,
) -> dict[str, str]:
    """POST /v4/oa/access_token (§5): both grants; the refresh token rotates and is single-use."""
    if form.get("app_id") != state.registry.app_id:
        raise rules.OAuthError(rules.OAuthCode.INVALID_APP_ID, "app_id does not match the app")
    if not secret_key or not hmac.compare_digest(secret_key.encode(), app_secret.encode()):
        raise rules.OAuthError(rules.OAuthCode.INVALID_SECRET_KEY, "secret_key header is wrong or missing")
    grant_type = form.get("grant_type")
    if grant_type == "refresh_token":
        pair = state.tokens.rotate(form.get("refresh_token", ""), now, ttl)
    elif grant_type == "authorization_code":
        verifier = form.get("code_verifier")

        def verifier_ok(challenge: str | None) -> bool:
            return challenge is None or (verifier is not None and rules.pkce_challenge(verifier) == challenge)

        pair = state.tokens.redeem_code(form.get("code", ""), verifier_ok, now, ttl)
    else:
        raise rules.OAuthError(rules.OAuthCode.INVALID_GRANT_TYPE, "grant_type is invalid")
    state.stats["oauth.tokens_issued"] += 1
    return rules.token_response(pair.access_token, pair.refresh_token, pair.expires_in)
