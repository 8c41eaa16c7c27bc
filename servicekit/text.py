"""Vietnamese text folding shared by every service (the intent service has a richer normaliser)."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, NFC, no diacritics (đ → d), single spaces: "Phường Sơn Kỳ" → "phuong son ky"."""
    text = unicodedata.normalize("NFD", text.lower()).replace("đ", "d")
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()
