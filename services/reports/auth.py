"""Officer authentication: Bearer JWTs (RS256; HS256 only in the dev environment) and who may do what.

Claims: `sub` (officer id), `role` (officer: the cases of their unit; supervisor: every unit; auditor:
read-only, every unit, and the audit log), `unit` (an OA key; required for officers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import jwt

from services.reports.settings import ReportsSettings

Role = Literal["officer", "supervisor", "auditor"]
ROLES: frozenset[str] = frozenset({"officer", "supervisor", "auditor"})


class AuthError(Exception):
    """The request carries no acceptable token (HTTP 401)."""


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    unit: str | None

    def sees_unit(self, unit: str) -> bool:
        return self.role in ("supervisor", "auditor") or unit == self.unit

    @property
    def can_write(self) -> bool:
        return self.role in ("officer", "supervisor")

    @property
    def reads_audit(self) -> bool:
        return self.role == "auditor"


class Authenticator:
    """Verifies officer tokens against the issuer, audience and keys of the settings."""

    def __init__(self, settings: ReportsSettings, known_units: frozenset[str]) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_s
        self._units = known_units
        self._keys: dict[str, object] = {}
        if settings.jwt_public_key_pem:
            self._keys["RS256"] = settings.jwt_public_key_pem
        hs = settings.effective_hs256_secret
        if hs is not None:
            self._keys["HS256"] = hs.get_secret_value()

    def authenticate(self, header: str | None) -> Principal:
        if not header or not header.startswith("Bearer "):
            raise AuthError("missing bearer token")
        token = header.removeprefix("Bearer ").strip()
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        key = self._keys.get(str(alg))
        if key is None:
            raise AuthError("token algorithm not accepted")
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[str(alg)],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError("invalid token") from exc
        role, unit, sub = claims.get("role"), claims.get("unit"), claims.get("sub")
        if role not in ROLES or not isinstance(sub, str) or not sub:
            raise AuthError("token lacks a known role or subject")
        if unit is not None and (not isinstance(unit, str) or unit not in self._units):
            raise AuthError("token names an unknown unit")
        if role == "officer" and unit is None:
            raise AuthError("an officer token names the officer's unit")
        return Principal(sub, role, unit)


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
