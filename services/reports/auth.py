"""Who may do what in the officer API. Tokens are the kit's officer tokens (`servicekit.auth`: RS256;
HS256 only in the dev environment); this module adds the reports service's rules.

Claims: `sub` (officer id), `role` (officer: the cases of their unit; supervisor: every unit; auditor:
read-only, every unit, and the audit log), `unit` (an OA key; required for officers), and `iat`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from servicekit import auth
from servicekit.auth import AuthError, TokenVerifier, mint, unauthenticated
from services.reports.settings import ReportsSettings

__all__ = ["ROLES", "AuthError", "Authenticator", "Principal", "Role", "mint"]

Role = Literal["officer", "supervisor", "auditor"]
ROLES: frozenset[str] = frozenset({"officer", "supervisor", "auditor"})


@dataclass(frozen=True)
class Principal(auth.Principal):
    """An officer of the reports service, with what their role allows."""

    role: Role

    def sees_unit(self, unit: str) -> bool:
        return self.role in ("supervisor", "auditor") or unit == self.unit

    @property
    def can_write(self) -> bool:
        return self.role in ("officer", "supervisor")

    @property
    def reads_audit(self) -> bool:
        return self.role == "auditor"


class Authenticator:
    """Verifies officer tokens against the settings, then the roles and units this service knows."""

    def __init__(self, settings: ReportsSettings, known_units: frozenset[str]) -> None:
        hs256 = settings.effective_hs256_secret
        self._verifier = TokenVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            public_key_pem=settings.jwt_public_key_pem,
            hs256_secret=hs256.get_secret_value() if hs256 is not None else None,
            leeway_s=settings.jwt_leeway_s,
            also_required=["iat"],
        )
        self._units = known_units

    def authenticate(self, header: str | None) -> Principal:
        """The officer named by an `Authorization` header value, or AuthError (always 401)."""
        p = self._verifier.authenticate(header)
        if p.role not in ROLES:
            raise unauthenticated("token lacks a known role")
        if p.unit is not None and p.unit not in self._units:
            raise unauthenticated("token names an unknown unit")
        if p.role == "officer" and p.unit is None:
            raise unauthenticated("an officer token names the officer's unit")
        return Principal(p.sub, cast(Role, p.role), p.unit)
