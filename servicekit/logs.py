"""Structured JSON logs that never carry PII.

Phone numbers, message text and Zalo user ids must not reach a log line in clear: pass ids through
`pii()` (a salted hash, stable within one environment so that lines about one citizen can be
correlated) and never log message text at all. `redact()` is a last line of defence that masks
anything that looks like a Vietnamese phone number or a long Zalo id in a message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)")
_LONG_ID = re.compile(r"(?<!\d)\d{15,20}(?!\d)")
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

_salt = b"dev-only-salt"


def set_pii_salt(salt: str) -> None:
    global _salt
    _salt = salt.encode()


def pii(value: str | None) -> str:
    """A short salted hash that stands for an identifier in logs."""
    if not value:
        return "-"
    return "h:" + hashlib.sha256(_salt + value.encode()).hexdigest()[:12]


def redact(text: str) -> str:
    """Mask phone numbers and Zalo-sized ids in free text."""
    return _LONG_ID.sub("[id]", _PHONE.sub("[phone]", text))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message and the `extra` fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for k, v in record.__dict__.items():
            if k not in _RESERVED and not k.startswith("_"):
                out[k] = redact(v) if isinstance(v, str) else v
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO", pii_salt: str | None = None) -> None:
    """Route every logger to JSON lines on stderr."""
    if pii_salt is not None:
        set_pii_salt(pii_salt)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
