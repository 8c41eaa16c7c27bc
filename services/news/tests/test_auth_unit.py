"""Who may use the editor API: a token with a unit and a newsroom role; RS256 only in production.

The token checks themselves (signature, issuer, audience, expiry, algorithms) are the kit's:
servicekit/tests/test_auth.py.
"""

from __future__ import annotations

import time

import jwt
import pytest
from aiohttp.test_utils import make_mocked_request
from pydantic import ValidationError

from servicekit.auth import AuthError
from servicekit.testing import rsa_key_pair
from services.news.auth import authenticate, token_verifier
from services.news.settings import NewsSettings

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-0123456789abcdef0123456789"
ISS, AUD = "zan-officer-auth", "zan-news"
DEV = NewsSettings(environment="dev", jwt_hs256_secret=SECRET)


def claims(**kw):
    c = {"sub": "officer-7", "role": "editor", "unit": "sonky", "iss": ISS, "aud": AUD, "exp": int(time.time()) + 600}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def request_with(token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return make_mocked_request("POST", "/api/v1/campaigns", headers=headers)


@pytest.fixture(scope="module")
def rsa_pair() -> tuple[str, str]:
    return rsa_key_pair()


def test_editor_and_supervisor_with_a_unit_pass():
    v = token_verifier(DEV)
    for role in ("editor", "supervisor"):
        p = authenticate(request_with(jwt.encode(claims(role=role), SECRET, algorithm="HS256")), v)
        assert (p.sub, p.role, p.unit) == ("officer-7", role, "sonky")


@pytest.mark.parametrize(
    ("token_claims", "status", "code"),
    [
        (None, 401, "missing_token"),
        (claims(unit=None), 401, "invalid_token"),
        (claims(unit=""), 401, "invalid_token"),
        (claims(role="officer"), 403, "forbidden"),
        (claims(role=""), 403, "forbidden"),
    ],
)
def test_refusals(token_claims, status, code):
    token = jwt.encode(token_claims, SECRET, algorithm="HS256") if token_claims else None
    with pytest.raises(AuthError) as err:
        authenticate(request_with(token), token_verifier(DEV))
    assert (err.value.status, err.value.code) == (status, code)


def test_hs256_only_in_dev(rsa_pair):
    key, public = rsa_pair
    production = NewsSettings(environment="production", jwt_public_key_pem=public, jwt_hs256_secret=SECRET)
    v = token_verifier(production)
    assert v.algorithms == ["RS256"]
    assert authenticate(request_with(jwt.encode(claims(), key, algorithm="RS256")), v).role == "editor"
    with pytest.raises(AuthError, match="not accepted"):
        authenticate(request_with(jwt.encode(claims(), SECRET, algorithm="HS256")), v)
    assert token_verifier(DEV).algorithms == ["HS256"]


def test_settings_require_a_public_key_outside_dev(rsa_pair):
    with pytest.raises(ValidationError, match="PUBLIC_KEY"):
        NewsSettings()  # production is the default
    assert NewsSettings(environment="production", jwt_public_key_pem=rsa_pair[1]).http_port == 8084
    assert NewsSettings(environment="dev").jwt_issuer == ISS
