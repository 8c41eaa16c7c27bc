"""Bearer JWT verification of the editor API (the same scheme as the reports service).

Tokens carry `sub` (officer id), `role` and `unit` (OA key of the officer's unit), plus `iss`, `aud`
and `exp`. Production accepts RS256 only, verified with the issuer's public key; HS256 with a shared
secret exists for local development and is refused outside `dev`. The algorithm is never taken on
trust from the token: each accepted algorithm has its own key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.serialization import load_pem_public_key

ROLES = frozenset({"editor", "supervisor"})


class AuthError(Exception):
    """The request is not authenticated (401) or not allowed (403)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Principal:
    """Who calls the API."""

    sub: str
    role: str
    unit: str


class TokenVerifier:
    """Verifies bearer tokens against one issuer and audience."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_pem: str = "",
        hs256_secret: str = "",
        allow_hs256: bool = False,
        leeway_s: float = 30.0,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_s
        self._keys: dict[str, Any] = {}
        if public_key_pem.strip():
            self._keys["RS256"] = load_pem_public_key(public_key_pem.encode())
        if allow_hs256 and hs256_secret:
            self._keys["HS256"] = hs256_secret
        if not self._keys:
            raise ValueError("no token algorithm configured: give a public key (RS256) or, in dev, an HS256 secret")

    @property
    def algorithms(self) -> list[str]:
        return sorted(self._keys)

    def verify(self, token: str) -> Principal:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise AuthError(401, "invalid_token", "token is not a JWT") from exc
        key = self._keys.get(str(alg))
        if key is None:
            raise AuthError(401, "invalid_token", f"algorithm {alg} is not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(alg)],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(401, "token_expired", "token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(401, "invalid_token", type(exc).__name__) from exc
        role, unit = claims.get("role"), claims.get("unit")
        if not isinstance(role, str) or not isinstance(unit, str) or not unit:
            raise AuthError(401, "invalid_token", "token lacks role or unit")
        return Principal(sub=str(claims["sub"]), role=role, unit=unit)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "missing_token", "Authorization: Bearer <token> is required")
    return token.strip()


def authenticate(request: web.Request, verifier: TokenVerifier, roles: frozenset[str] = ROLES) -> Principal:
    """The caller, or AuthError: 401 without a valid token, 403 for a role outside `roles`."""
    principal = verifier.verify(bearer_token(request))
    if principal.role not in roles:
        raise AuthError(403, "forbidden", f"role {principal.role!r} may not do this")
    return principal
