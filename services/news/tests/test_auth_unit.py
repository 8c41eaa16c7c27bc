"""Bearer JWT verification: RS256 in production, HS256 only in dev."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from services.news.auth import AuthError, TokenVerifier
from services.news.settings import NewsSettings

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-0123456789abcdef0123456789"
ISS, AUD = "zan-officer-auth", "zan-news"


def claims(**kw):
    # A day of validity: parametrize builds these at collection time, minutes before a long suite runs them.
    exp = int(time.time()) + 86_400
    c = {"sub": "officer-7", "role": "editor", "unit": "sonky", "iss": ISS, "aud": AUD, "exp": exp}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


@pytest.fixture(scope="module")
def rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return key, public


def test_hs256_in_dev():
    v = TokenVerifier(issuer=ISS, audience=AUD, hs256_secret=SECRET, allow_hs256=True)
    p = v.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))
    assert (p.sub, p.role, p.unit) == ("officer-7", "editor", "sonky")


def test_rs256_in_production_and_hs256_refused(rsa_pair):
    key, public = rsa_pair
    v = TokenVerifier(issuer=ISS, audience=AUD, public_key_pem=public, hs256_secret=SECRET, allow_hs256=False)
    assert v.algorithms == ["RS256"]
    assert v.verify(jwt.encode(claims(role="supervisor"), key, algorithm="RS256")).role == "supervisor"
    with pytest.raises(AuthError, match="not accepted"):
        v.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (claims(aud="reports"), "invalid_token"),
        (claims(iss="someone-else"), "invalid_token"),
        (claims(exp=int(time.time()) - 3600), "token_expired"),
        (claims(unit=None), "invalid_token"),
        (claims(role=None), "invalid_token"),
        (claims(sub=None), "invalid_token"),
    ],
)
def test_rejections(bad, code):
    v = TokenVerifier(issuer=ISS, audience=AUD, hs256_secret=SECRET, allow_hs256=True)
    with pytest.raises(AuthError) as err:
        v.verify(jwt.encode(bad, SECRET, algorithm="HS256"))
    assert err.value.code == code and err.value.status == 401


def test_wrong_secret_and_garbage():
    v = TokenVerifier(issuer=ISS, audience=AUD, hs256_secret=SECRET, allow_hs256=True)
    with pytest.raises(AuthError):
        v.verify(jwt.encode(claims(), "another-secret-0123456789abcdef01234567", algorithm="HS256"))
    with pytest.raises(AuthError):
        v.verify("not-a-token")


def test_settings_require_a_public_key_outside_dev(rsa_pair):
    with pytest.raises(ValidationError, match="PUBLIC_KEY"):
        NewsSettings()  # production is the default
    assert NewsSettings(environment="production", jwt_public_key_pem=rsa_pair[1]).http_port == 8084
    assert NewsSettings(environment="dev").jwt_issuer == ISS
