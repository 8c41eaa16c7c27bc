"""Officer tokens: the bearer JWT scheme every officer-facing API shares (reports, news).

Tokens come from the officers' identity provider: `sub` (officer id), `role`, `unit` (OA key of the
officer's unit), `iss`, one `aud` per API, `exp`. Production accepts RS256 only, verified with the
issuer's public key; HS256 with a shared secret exists for local development, and each service passes
a secret only in `dev`. The algorithm is never taken on trust from the token: each accepted algorithm has
its own key, so `alg: none` or an HS256 token "signed" with the public key are refused.

The kit authenticates; what a role may do is each service's rule (its own `auth.py`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

# Claims every token must carry; a service may demand more (`also_required`: reports wants `iat`).
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")


class AuthError(Exception):
    """The caller is not authenticated (`status` 401) or not allowed (403); `code` is machine-readable."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def unauthenticated(detail: str) -> AuthError:
    """A 401 for a token that is present but not acceptable."""
    return AuthError(401, "invalid_token", detail)


@dataclass(frozen=True)
class Principal:
    """The caller a verified token names: officer id, role and unit, as the token states them."""

    sub: str
    role: str
    unit: str | None


class TokenVerifier:
    """Verifies bearer tokens of one issuer and audience."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_pem: str = "",
        hs256_secret: str | None = None,
        leeway_s: float = 30.0,
        also_required: Iterable[str] = (),
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_s
        self._required = [*REQUIRED_CLAIMS, *(c for c in also_required if c not in REQUIRED_CLAIMS)]
        self._keys: dict[str, Any] = {}
        if public_key_pem.strip():
            self._keys["RS256"] = load_pem_public_key(public_key_pem.encode())
        if hs256_secret:
            self._keys["HS256"] = hs256_secret
        if not self._keys:
            raise ValueError("no token algorithm configured: give a public key (RS256) or, in dev, an HS256 secret")

    @property
    def algorithms(self) -> list[str]:
        return sorted(self._keys)

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller named by an `Authorization: Bearer <token>` header value, or AuthError (401)."""
        return self.verify(bearer_token(authorization))

    def verify(self, token: str) -> Principal:
        """The principal of a token whose signature, issuer, audience and lifetime check out, or AuthError (401)."""
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise unauthenticated("token is not a JWT") from exc
        key = self._keys.get(str(alg))
        if key is None:
            raise unauthenticated(f"algorithm {alg} is not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(alg)],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": self._required},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(401, "token_expired", "token expired") from exc
        except jwt.PyJWTError as exc:
            raise unauthenticated(type(exc).__name__) from exc
        sub, role, unit = claims.get("sub"), claims.get("role"), claims.get("unit")
        if not isinstance(sub, str) or not sub or not isinstance(role, str):
            raise unauthenticated("token lacks a subject or role")
        if unit is not None and not isinstance(unit, str):
            raise unauthenticated("token names no valid unit")
        return Principal(sub=sub, role=role, unit=unit)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization` header value (the scheme is case-insensitive), or AuthError (401)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "missing_token", "Authorization: Bearer <token> is required")
    return token.strip()


def mint(
    secret_or_key: str,
    *,
    sub: str,
    role: str,
    unit: str | None,
    issuer: str,
    audience: str,
    ttl_s: int = 3600,
    algorithm: str = "HS256",
    now: float | None = None,
) -> str:
    """A token for development and tests (production tokens come from the identity provider)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "role": role,
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl_s,
    }
    if unit is not None:
        claims["unit"] = unit
    return jwt.encode(claims, secret_or_key, algorithm=algorithm)
