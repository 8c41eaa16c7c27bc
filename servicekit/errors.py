"""Error classes the consumer loop understands."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaError
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)


class RetryableError(Exception):
    """A handler failure that may succeed if tried again (bounded retries, then the dead-letter topic)."""


class PermanentError(Exception):
    """A handler failure that will never succeed for this record: dead-letter it at once."""


# Failures of the environment rather than of the record: the loop retries them without limit (the
# record is not poison, the database or broker is away), and readiness reports the outage.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    AutoReconnect,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    KafkaError,
    asyncio.TimeoutError,
    ConnectionError,
)


# Server answers that say "not now" rather than "never": MongoDB's transient codes (shutdown, step-down,
# time limits, network) and InternalError, which FerretDB returns for operations cut off while it stops
# ("context canceled"; seen with `make chaos`). A record that truly breaks the server would repeat its
# error forever: such records are rare, and an alert (ConsumerStalled) shows them.
TRANSIENT_SERVER_CODES = frozenset({1, 6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})


def is_infrastructure_error(exc: BaseException) -> bool:
    if isinstance(exc, OperationFailure):
        return exc.code in TRANSIENT_SERVER_CODES or exc.has_error_label("RetryableWriteError")
    return isinstance(exc, INFRASTRUCTURE_ERRORS)
