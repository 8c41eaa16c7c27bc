"""Identifier source: message ids, user ids, tokens. Seedable so a run can be replayed."""

import hashlib
import random
import string

_TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


class IdSource:
    """Generates ids shaped like Zalo's: message ids are 20 hex chars (as in every captured sample),
    user ids 19-digit decimal strings, tokens long opaque url-safe strings."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom()

    def message_id(self) -> str:
        return f"{self._rng.getrandbits(80):020x}"

    def user_id(self) -> int:
        return self._rng.randrange(10**18, 2**63 - 1)

    def token(self, length: int = 96) -> str:
        return "".join(self._rng.choices(_TOKEN_ALPHABET, k=length))

    def short(self, length: int = 16) -> str:
        return "".join(self._rng.choices(string.ascii_lowercase + string.digits, k=length))

    def article_id(self) -> str:
        return f"{self._rng.getrandbits(64):016x}"

    def random(self) -> float:
        return self._rng.random()


def user_id_by_app(app_id: str, user_id: str) -> str:
    """The app-scoped id of a user (§1.2): a different id space, derived stably from the OA-scoped id."""
    digest = hashlib.sha256(f"{app_id}:{user_id}".encode()).digest()
    return str(10**18 + int.from_bytes(digest[:8], "big") % (8 * 10**18))
