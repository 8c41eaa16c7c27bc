"""Pure pieces outside the domain: sealing, tokens, image sniffing, the list index."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.paths import REPO_ROOT
from servicekit.text import fold
from services.reports.attachments import host_allowed, sniff_image
from services.reports.auth import Authenticator, AuthError, mint
from services.reports.caseindex import CaseIndex, CaseSummary, ListFilter
from services.reports.crypto import CitizenIndex, ReporterCipher, SealError
from services.reports.domain import Cursor
from services.reports.settings import DEV_JWT_SECRET, ReportsSettings

pytestmark = pytest.mark.unit

UNITS = frozenset({"hinhsu", "csgt", "sonky"})


def key() -> bytes:
    return os.urandom(32)


# --- sealing ---------------------------------------------------------------------------------------------


def test_seal_opens_only_in_its_context_and_hides_the_id():
    cipher = ReporterCipher("k1", {"k1": key()})
    sealed = cipher.seal("246845883529197922", "reporter:case-a")
    assert "246845883529197922" not in sealed and sealed.startswith("v1:k1:")
    assert cipher.open(sealed, "reporter:case-a") == "246845883529197922"
    with pytest.raises(SealError):
        cipher.open(sealed, "reporter:case-b")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealError):
        cipher.open(tampered, "reporter:case-a")


def test_key_rotation_old_values_open_new_values_use_the_new_key():
    k1, k2 = key(), key()
    before = ReporterCipher("k1", {"k1": k1})
    old = before.seal("u1", "ctx")
    after = ReporterCipher("k2", {"k2": k2, "k1": k1})
    assert after.open(old, "ctx") == "u1"
    assert after.needs_rekey(old)
    resealed = after.reseal(old, "ctx")
    assert after.key_id_of(resealed) == "k2" and not after.needs_rekey(resealed)
    with pytest.raises(SealError, match="unknown key id"):
        ReporterCipher("k2", {"k2": k2}).open(old, "ctx")


def test_settings_build_the_cipher_from_base64_keys():
    k1, k2 = base64.b64encode(key()).decode(), base64.b64encode(key()).decode()
    settings = ReportsSettings(environment="dev", reporter_key_id="k2", reporter_key=k2, reporter_old_keys={"k1": k1})
    cipher = ReporterCipher.from_settings(settings)
    assert cipher.open(ReporterCipher("k1", {"k1": base64.b64decode(k1)}).seal("u", "c"), "c") == "u"
    with pytest.raises(ValueError, match="32 bytes"):
        ReporterCipher.from_settings(
            ReportsSettings(environment="dev", reporter_key=base64.b64encode(b"short").decode())
        )


def test_production_refuses_missing_or_development_keys():
    with pytest.raises(ValueError, match="REPORTS_REPORTER_KEY"):
        ReportsSettings(environment="production")
    from services.reports.settings import DEV_CITIZEN_INDEX_KEY, DEV_REPORTER_KEY

    with pytest.raises(ValueError, match="development keys"):
        ReportsSettings(
            environment="production",
            reporter_key=DEV_REPORTER_KEY,
            citizen_index_key=DEV_CITIZEN_INDEX_KEY,
            jwt_public_key_pem="pem",
        )


def test_blind_index_and_pseudonym_are_stable_keyed_and_opaque():
    idx, other = CitizenIndex(key()), CitizenIndex(key())
    assert idx.citizen("oa", "u1") == idx.citizen("oa", "u1") != idx.citizen("oa2", "u1")
    assert idx.citizen("oa", "u1") != other.citizen("oa", "u1")
    pseudonym = idx.pseudonym("oa", "u1")
    assert pseudonym.startswith("CD-") and len(pseudonym) == 11 and "u1" not in pseudonym


# --- tokens ------------------------------------------------------------------------------------------------------


def rsa_pair() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return pem, public


def production_settings(public_pem: str) -> ReportsSettings:
    return ReportsSettings(
        environment="production",
        reporter_key=base64.b64encode(key()).decode(),
        citizen_index_key=base64.b64encode(key()).decode(),
        jwt_public_key_pem=public_pem,
    )


def test_rs256_tokens_in_production_and_hs256_refused_there():
    private, public = rsa_pair()
    settings = production_settings(public)
    auth = Authenticator(settings, UNITS)
    token = mint(
        private,
        sub="u1",
        role="officer",
        unit="hinhsu",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        algorithm="RS256",
    )
    assert auth.authenticate(f"Bearer {token}").unit == "hinhsu"
    hs = mint(
        DEV_JWT_SECRET.get_secret_value(),
        sub="u1",
        role="supervisor",
        unit=None,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    with pytest.raises(AuthError, match="algorithm"):
        auth.authenticate(f"Bearer {hs}")


def test_bad_tokens_are_refused():
    settings = ReportsSettings(environment="dev")
    auth = Authenticator(settings, UNITS)
    secret = DEV_JWT_SECRET.get_secret_value()

    def token(secret=secret, **kw):
        args = {
            "sub": "u1",
            "role": "officer",
            "unit": "hinhsu",
            "issuer": settings.jwt_issuer,
            "audience": settings.jwt_audience,
        } | kw
        return mint(secret, **args)

    assert auth.authenticate(f"Bearer {token()}").role == "officer"
    bad = [
        None,
        "Basic abc",
        "Bearer not-a-jwt",
        f"Bearer {token(now=time.time() - 7200, ttl_s=60)}",
        f"Bearer {token(audience='someone-else')}",
        f"Bearer {token(issuer='evil')}",
        f"Bearer {token(role='admin')}",
        f"Bearer {token(unit='nowhere')}",
        f"Bearer {token(unit=None)}",
        f"Bearer {token(secret='another-secret-of-sufficient-length-1234')}",
        "Bearer " + jwt.encode({"sub": "u1", "role": "supervisor"}, key=None, algorithm="none"),  # type: ignore[arg-type]
    ]
    for header in bad:
        with pytest.raises(AuthError):
            auth.authenticate(header)


def test_devtoken_command_mints_a_usable_token():
    env = {**os.environ, "REPORTS_ENVIRONMENT": "dev"}
    out = subprocess.run(
        [sys.executable, "-m", "services.reports.devtoken", "--sub", "u1", "--role", "officer", "--unit", "hinhsu"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    principal = Authenticator(ReportsSettings(environment="dev"), UNITS).authenticate(f"Bearer {out.stdout.strip()}")
    assert (principal.sub, principal.role, principal.unit) == ("u1", "officer", "hinhsu")
    refused = subprocess.run(
        [sys.executable, "-m", "services.reports.devtoken", "--sub", "u1", "--role", "supervisor"],
        cwd=REPO_ROOT,
        env={**os.environ, "REPORTS_ENVIRONMENT": "production"},
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0


# --- attachments -------------------------------------------------------------------------------------------------


def test_images_are_recognised_by_magic_bytes():
    assert sniff_image(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_image(b"\x89PNG\r\n\x1a\nrest") == "image/png"
    assert sniff_image(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"<html>") is None
    assert sniff_image(b"GIF89a") is None


def test_only_allowed_hosts_are_fetched():
    allowed = ["zdn.vn"]
    assert host_allowed("https://f6.photo.talk.zdn.vn/1.jpg", allowed, False)
    assert not host_allowed("https://zdn.vn.evil.com/1.jpg", allowed, False)
    assert not host_allowed("http://127.0.0.1:8900/_sim/media/1", allowed, False)
    assert host_allowed("http://127.0.0.1:8900/_sim/media/1", allowed, True)
    assert not host_allowed("file:///etc/passwd", allowed, True)


# --- the list index ------------------------------------------------------------------------------------------------

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def summary(i: int, *, unit="hinhsu", priority="normal", status="received", text="trộm xe", version=1) -> CaseSummary:
    at = T0 + timedelta(minutes=i)
    return CaseSummary(
        id=f"{i:032x}",
        code=f"TP-26-{i:06d}",
        oa_key="tanphu",
        kind="crime",
        category="theft",
        priority=priority,
        status=status,
        unit=unit,
        ward="Sơn Kỳ",
        ward_folded="son ky",
        source="form",
        created_at=at,
        created_ts=at.timestamp(),
        updated_at=at,
        assignee=None,
        version=version,
        excerpt=text,
        folded=fold(f"{text} TP-26-{i:06d}"),
        attachments=0,
    )


def test_index_pages_newest_first_without_gaps_or_repeats():
    index = CaseIndex()
    for i in range(1, 251):
        index.apply(summary(i, unit="hinhsu" if i % 2 else "csgt"))
    seen, cursor = [], None
    while True:
        page, cursor = index.query(ListFilter(units=frozenset({"hinhsu"})), "newest", cursor, 40)
        seen.extend(s.id for s in page)
        if cursor is None:
            break
    expected = [f"{i:032x}" for i in range(249, 0, -2)]
    assert seen == expected


def test_index_urgent_first_pages_through_both_parts():
    index = CaseIndex()
    for i in range(1, 31):
        index.apply(summary(i, priority="urgent" if i % 5 == 0 else "normal"))
    seen, cursor = [], None
    while True:
        page, cursor = index.query(ListFilter(), "urgent_first", cursor, 4)
        seen.extend(page)
        if cursor is None:
            break
    assert [s.priority for s in seen[:6]] == ["urgent"] * 6
    assert [int(s.id, 16) for s in seen[:6]] == [30, 25, 20, 15, 10, 5]
    assert len(seen) == 30 and len({s.id for s in seen}) == 30


def test_index_filters_and_versions():
    index = CaseIndex()
    index.apply(summary(1, status="received", text="bị lừa đảo qua mạng"))
    index.apply(summary(2, status="resolved", text="trộm xe máy"))
    index.apply(summary(3, unit="csgt", text="đua xe"))
    q = index.query
    assert [s.id for s in q(ListFilter(statuses=frozenset({"resolved"})), "newest", None, 10)[0]] == [f"{2:032x}"]
    assert [s.id for s in q(ListFilter(terms=("lua", "mang")), "newest", None, 10)[0]] == [f"{1:032x}"]
    window = ListFilter(
        created_from=(T0 + timedelta(minutes=2)).timestamp(), created_to=(T0 + timedelta(minutes=2)).timestamp()
    )
    assert [s.id for s in q(window, "newest", None, 10)[0]] == [f"{2:032x}"]
    assert not index.apply(summary(3, unit="sonky", version=1)), "same version: ignored"
    assert index.apply(summary(3, unit="sonky", version=2))
    assert q(ListFilter(units=frozenset({"csgt"})), "newest", None, 10)[0] == []
    assert len(q(ListFilter(units=frozenset({"sonky"})), "newest", None, 10)[0]) == 1
    stale = Cursor("urgent_first", 0, 0.0, "x")
    assert len(q(ListFilter(), "newest", stale, 10)[0]) == 3, "a cursor of another order starts over"


def test_index_stats_count_urgent_unacknowledged():
    index = CaseIndex()
    index.apply(summary(1, priority="urgent", status="received"))
    index.apply(summary(2, priority="urgent", status="acknowledged"))
    index.apply(summary(3, priority="urgent", status="resolved"))
    index.apply(summary(4, status="received"))
    stats = index.stats((T0 + timedelta(minutes=30)).timestamp(), 600)
    assert (stats.open_urgent, stats.urgent_unacknowledged) == (2, 1)
    assert stats.oldest_urgent_received_s == 29 * 60
    assert stats.by_kind_unit_status[("crime", "hinhsu", "received")] == 2
