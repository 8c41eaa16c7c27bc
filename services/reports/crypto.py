"""Reporter identity at rest: AES-256-GCM with rotating keys, and a keyed blind index.

A sealed value is one string, `v1:<key id>:<nonce b64>:<ciphertext b64>`: the key id travels with the
ciphertext, so a new current key can be introduced while older values still open with the retired
key (kept in `reporter_old_keys` until `python -m services.reports.rekey` has re-sealed everything).
The associated data binds a ciphertext to the record it belongs to (e.g. `reporter:<case id>`), so a
sealed id copied into another case does not open.

The blind index (`CitizenIndex`) is an HMAC of "<oa_id>:<user_id>": it finds a citizen's cases and
notices without storing the Zalo id in clear, and derives the pseudonym officers see for named
reporters. It is one-way; only the sealed copy can address a message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.reports.settings import ReportsSettings

_VERSION = "v1"
_NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value could not be opened (unknown key id, wrong context, tampered)."""


def decode_key(value: str, what: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc
    if len(key) != 32:
        raise ValueError(f"{what} must be 32 bytes (base64 of 32 random bytes)")
    return key


class ReporterCipher:
    """Seals and opens short identifiers (Zalo user ids) with the current key; opens with any known key."""

    def __init__(self, current_key_id: str, keys: dict[str, bytes]) -> None:
        if current_key_id not in keys:
            raise ValueError("the current key id has no key")
        self.current_key_id = current_key_id
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}

    @classmethod
    def from_settings(cls, settings: ReportsSettings) -> ReporterCipher:
        keys = {
            kid: decode_key(secret.get_secret_value(), f"REPORTS_REPORTER_OLD_KEYS[{kid}]")
            for kid, secret in settings.reporter_old_keys.items()
        }
        keys[settings.reporter_key_id] = decode_key(
            settings.effective_reporter_key.get_secret_value(), "REPORTS_REPORTER_KEY"
        )
        return cls(settings.reporter_key_id, keys)

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        ct = self._aead[self.current_key_id].encrypt(nonce, plaintext.encode(), context.encode())
        return ":".join((_VERSION, self.current_key_id, _b64(nonce), _b64(ct)))

    def open(self, sealed: str, context: str) -> str:
        try:
            version, kid, nonce, ct = sealed.split(":")
        except ValueError as exc:
            raise SealError("malformed sealed value") from exc
        if version != _VERSION or kid not in self._aead:
            raise SealError(f"unknown key id {kid!r}" if version == _VERSION else "unknown version")
        try:
            return self._aead[kid].decrypt(_unb64(nonce), _unb64(ct), context.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise SealError("cannot open the sealed value") from exc

    def key_id_of(self, sealed: str) -> str:
        parts = sealed.split(":")
        return parts[1] if len(parts) == 4 else ""

    def needs_rekey(self, sealed: str) -> bool:
        return self.key_id_of(sealed) != self.current_key_id

    def reseal(self, sealed: str, context: str) -> str:
        return self.seal(self.open(sealed, context), context)


class CitizenIndex:
    """Keyed one-way handles of citizens: the blind index and the officer-facing pseudonym."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: ReportsSettings) -> CitizenIndex:
        return cls(decode_key(settings.effective_citizen_index_key.get_secret_value(), "REPORTS_CITIZEN_INDEX_KEY"))

    def _mac(self, *parts: str) -> bytes:
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).digest()

    def citizen(self, oa_id: str, user_id: str) -> str:
        """The blind index of one OA-scoped Zalo user."""
        return self._mac("citizen", oa_id, user_id).hex()[:40]

    def app_user(self, app_user_id: str) -> str:
        """The blind index of an app-scoped Zalo user id (links one person across the district's OAs)."""
        return self._mac("app-user", app_user_id).hex()[:40]

    def pseudonym(self, oa_id: str, user_id: str) -> str:
        """A short stable label for a named reporter, e.g. `CD-4K7QX2MB`; reveals nothing about the id."""
        return "CD-" + base64.b32encode(self._mac("pseudonym", oa_id, user_id)[:5]).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
