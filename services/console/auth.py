"""Who is signed in, and which bearer token each upstream API receives.

Production: the identity provider's token arrives with every request, as `Authorization: Bearer …`
(ingress-nginx external auth copies oauth2-proxy's response header) or as `X-Forwarded-Access-Token`
(oauth2-proxy as a reverse proxy with --pass-access-token). The console does not verify it: the APIs do,
on every call. It reads the claims only to shape the page (which sections to show); a forged token
gets a page full of 401s, nothing more.

Development (CONSOLE_DEV_LOGIN=true only): the sign-in mints one HS256 token per API with that API's
development secret, issuer and audience, kept in HttpOnly SameSite=Strict cookies, and the proxy turns
the cookie into the Authorization header, as oauth2-proxy would. Role names are the APIs': reports knows
officer, supervisor and auditor; news knows editor and supervisor; a role gets a token only for the APIs
that know it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

from servicekit.auth import mint
from services.console.settings import ConsoleSettings

REPORTS = "reports"
NEWS = "news"
UPSTREAMS = (REPORTS, NEWS)
DESK_ROLES = frozenset({"officer", "supervisor", "auditor"})
NEWS_ROLES = frozenset({"editor", "supervisor"})
CASE_WRITERS = frozenset({"officer", "supervisor"})
DEV_ROLES = ("officer", "supervisor", "auditor", "editor")
DEV_COOKIES = {REPORTS: "zan_dev_reports", NEWS: "zan_dev_news"}
_SUB = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")

Mode = Literal["forwarded", "dev"]


class DevSignInError(ValueError):
    """The development sign-in form names an unknown role or unit, or a malformed user id."""


@dataclass(frozen=True)
class Credentials:
    """The tokens of one request, per upstream API."""

    mode: Mode
    tokens: Mapping[str, str] = field(default_factory=dict)

    def token_for(self, upstream: str) -> str | None:
        return self.tokens.get(upstream)


@dataclass(frozen=True)
class Identity:
    """What the page shows about the caller (and which sections it offers)."""

    sub: str
    role: str
    unit: str | None
    mode: Mode
    expires_at: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "signed_in": True,
            "sub": self.sub,
            "role": self.role,
            "unit": self.unit,
            "mode": self.mode,
            "expires_at": self.expires_at,
            "sections": {
                "desk": self.role in DESK_ROLES,
                "newsroom": self.role in NEWS_ROLES,
                "case_write": self.role in CASE_WRITERS,
                "audit": self.role == "auditor",
                "approve": self.role == "supervisor",
            },
        }


def forwarded_token(headers: Mapping[str, str]) -> str | None:
    """The identity provider's token: `Authorization: Bearer`, else `X-Forwarded-Access-Token`."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = headers.get("X-Forwarded-Access-Token", "").strip()
    return token or None


def credentials(
    headers: Mapping[str, str], cookies: Mapping[str, str], settings: ConsoleSettings
) -> Credentials | None:
    """The request's tokens: a forwarded one wins; dev cookies count only with the dev sign-in enabled."""
    token = forwarded_token(headers)
    if token is not None:
        return Credentials("forwarded", {u: token for u in UPSTREAMS})
    if not settings.dev_login:
        return None
    tokens = {u: cookies[name] for u, name in DEV_COOKIES.items() if cookies.get(name)}
    return Credentials("dev", tokens) if tokens else None


def _dev_key(settings: ConsoleSettings, upstream: str) -> tuple[str, str, str]:
    if upstream == REPORTS:
        secret, issuer, audience = (
            settings.dev_reports_jwt_secret,
            settings.dev_reports_jwt_issuer,
            settings.dev_reports_jwt_audience,
        )
    else:
        secret, issuer, audience = (
            settings.dev_news_jwt_secret,
            settings.dev_news_jwt_issuer,
            settings.dev_news_jwt_audience,
        )
    assert secret is not None, "dev sign-in without secrets (the settings validator prevents it)"
    return secret.get_secret_value(), issuer, audience


def identity(creds: Credentials, settings: ConsoleSettings) -> Identity | None:
    """The caller as the page shows them, or None when the token carries no usable claims."""
    for upstream in UPSTREAMS:
        token = creds.token_for(upstream)
        if token is None:
            continue
        try:
            if creds.mode == "dev":
                secret, issuer, audience = _dev_key(settings, upstream)
                claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=issuer, audience=audience)
            else:
                # Display only: the APIs verify the signature, issuer and audience on every call. An expired
                # token counts as no session, so the page offers the sign-in instead of a wall of 401s.
                claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": True})
        except jwt.PyJWTError:
            return None
        sub, role, unit = claims.get("sub"), claims.get("role"), claims.get("unit")
        if not isinstance(sub, str) or not isinstance(role, str) or not sub or not role:
            return None
        exp = claims.get("exp")
        return Identity(
            sub, role, unit if isinstance(unit, str) else None, creds.mode, exp if isinstance(exp, int) else None
        )
    return None


def mint_dev_tokens(
    settings: ConsoleSettings, *, sub: str, role: str, unit: str, known_units: frozenset[str], now: float | None = None
) -> dict[str, str]:
    """Development tokens for the APIs that know `role` (CHỈ DÙNG CHO PHÁT TRIỂN)."""
    if not _SUB.match(sub):
        raise DevSignInError("sub: 1–64 letters, digits or . _ @ -")
    if role not in DEV_ROLES:
        raise DevSignInError(f"role: one of {', '.join(DEV_ROLES)}")
    if unit not in known_units:
        raise DevSignInError("unit: an OA key of the registry")
    ttl = settings.dev_token_ttl_s
    tokens: dict[str, str] = {}
    for upstream, roles in ((REPORTS, DESK_ROLES), (NEWS, NEWS_ROLES)):
        if role in roles:
            secret, iss, aud = _dev_key(settings, upstream)
            tokens[upstream] = mint(secret, sub=sub, role=role, unit=unit, issuer=iss, audience=aud, ttl_s=ttl, now=now)
    return tokens
