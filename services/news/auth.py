"""Who may use the editor API: the kit's officer tokens (`servicekit.auth`, the same scheme as the
reports service) with a unit, and a role the newsroom knows (editor or supervisor; any other is 403).
"""

from __future__ import annotations

from aiohttp import web

from servicekit.auth import AuthError, Principal, TokenVerifier, unauthenticated
from services.news.settings import NewsSettings

ROLES = frozenset({"editor", "supervisor"})


def token_verifier(settings: NewsSettings) -> TokenVerifier:
    """The token checks of the settings; HS256 with the shared secret only in the dev environment."""
    return TokenVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        public_key_pem=settings.jwt_public_key_pem,
        hs256_secret=settings.jwt_hs256_secret.get_secret_value() if settings.environment == "dev" else None,
        leeway_s=settings.jwt_leeway_s,
    )


def authenticate(request: web.Request, verifier: TokenVerifier, roles: frozenset[str] = ROLES) -> Principal:
    """The caller, or AuthError: 401 without a valid token naming a unit, 403 for a role outside `roles`."""
    principal = verifier.authenticate(request.headers.get("Authorization"))
    if not principal.unit:
        raise unauthenticated("token lacks role or unit")
    if principal.role not in roles:
        raise AuthError(403, "forbidden", f"role {principal.role!r} may not do this")
    return principal
