"""Error classes the consumer loop understands."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaError
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError


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


def is_infrastructure_error(exc: BaseException) -> bool:
    return isinstance(exc, INFRASTRUCTURE_ERRORS)
