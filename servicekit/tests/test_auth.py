"""Officer tokens: RS256 in production, HS256 only where a service passes a secret, never `alg: none`."""

from __future__ import annotations

import time

import jwt
import pytest

from servicekit.auth import AuthError, TokenVerifier, bearer_token, mint
from servicekit.testing import rsa_key_pair

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret-0123456789abcdef0123456789"
ISS, AUD = "zan-officer-auth", "zan-news"


def claims(**kw):
    # A day of validity: parametrize builds these at collection time, minutes before a long suite runs them.
    exp = int(time.time()) + 86_400
    c = {"sub": "officer-7", "role": "editor", "unit": "sonky", "iss": ISS, "aud": AUD, "exp": exp}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def hs256(**kw) -> str:
    return jwt.encode(claims(**kw), SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def rsa_pair() -> tuple[str, str]:
    return rsa_key_pair()


def dev_verifier(**kw) -> TokenVerifier:
    return TokenVerifier(issuer=ISS, audience=AUD, hs256_secret=SECRET, **kw)


def test_hs256_when_given_a_secret():
    p = dev_verifier().verify(hs256())
    assert (p.sub, p.role, p.unit) == ("officer-7", "editor", "sonky")


def test_rs256_in_production_and_hs256_refused(rsa_pair):
    key, public = rsa_pair
    v = TokenVerifier(issuer=ISS, audience=AUD, public_key_pem=public)
    assert v.algorithms == ["RS256"]
    assert v.verify(jwt.encode(claims(role="supervisor"), key, algorithm="RS256")).role == "supervisor"
    with pytest.raises(AuthError, match="not accepted"):
        v.verify(hs256())
    # The classic confusion: an HS256 token "signed" with the public key must not pass as RS256.
    with pytest.raises(AuthError, match="not accepted"):
        v.verify(jwt.encode(claims(), public.encode().hex(), algorithm="HS256"))


def test_a_verifier_without_any_key_is_a_configuration_error():
    with pytest.raises(ValueError, match="no token algorithm"):
        TokenVerifier(issuer=ISS, audience=AUD, hs256_secret=None)


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (claims(aud="reports"), "invalid_token"),
        (claims(iss="someone-else"), "invalid_token"),
        (claims(exp=int(time.time()) - 3600), "token_expired"),
        (claims(exp=None), "invalid_token"),
        (claims(role=None), "invalid_token"),
        (claims(sub=None), "invalid_token"),
        (claims(sub=""), "invalid_token"),
        (claims(unit=7), "invalid_token"),
    ],
)
def test_rejections(bad, code):
    with pytest.raises(AuthError) as err:
        dev_verifier().verify(jwt.encode(bad, SECRET, algorithm="HS256"))
    assert err.value.code == code and err.value.status == 401


def test_wrong_secret_garbage_and_alg_none():
    v = dev_verifier()
    for token in (
        jwt.encode(claims(), "another-secret-0123456789abcdef01234567", algorithm="HS256"),
        "not-a-token",
        jwt.encode(claims(), key=None, algorithm="none"),  # type: ignore[arg-type]
    ):
        with pytest.raises(AuthError) as err:
            v.verify(token)
        assert err.value.status == 401


def test_unit_is_optional_here_services_decide():
    assert dev_verifier().verify(hs256(unit=None)).unit is None


def test_a_service_may_require_more_claims():
    strict = dev_verifier(also_required=["iat"])
    with pytest.raises(AuthError, match="MissingRequiredClaimError"):
        strict.verify(hs256())
    assert strict.verify(hs256(iat=int(time.time()))).sub == "officer-7"


def test_leeway_accepts_a_token_that_just_expired():
    just_expired = hs256(exp=int(time.time()) - 5)
    assert dev_verifier(leeway_s=30).verify(just_expired).sub == "officer-7"
    with pytest.raises(AuthError, match="expired"):
        dev_verifier(leeway_s=0).verify(just_expired)


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("BEARER abc", "abc")],
)
def test_bearer_token(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "abc"])
def test_bearer_token_missing(header):
    with pytest.raises(AuthError) as err:
        bearer_token(header)
    assert (err.value.status, err.value.code) == (401, "missing_token")


def test_authenticate_reads_the_header_and_minted_tokens_verify(rsa_pair):
    key, public = rsa_pair
    now = time.time()
    rs = mint(key, sub="u1", role="officer", unit=None, issuer=ISS, audience=AUD, algorithm="RS256", now=now)
    p = TokenVerifier(issuer=ISS, audience=AUD, public_key_pem=public).authenticate(f"Bearer {rs}")
    assert (p.sub, p.role, p.unit) == ("u1", "officer", None)
    hs = mint(SECRET, sub="u2", role="editor", unit="sonky", issuer=ISS, audience=AUD, ttl_s=60, now=now)
    decoded = jwt.decode(hs, SECRET, algorithms=["HS256"], audience=AUD)
    assert decoded["exp"] - decoded["iat"] == 60 and decoded["unit"] == "sonky"
    assert dev_verifier(also_required=["iat"]).authenticate(f"Bearer {hs}").unit == "sonky"
    with pytest.raises(AuthError) as err:
        dev_verifier().authenticate(None)
    assert err.value.code == "missing_token"
