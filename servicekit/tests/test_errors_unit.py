"""Which failures the consumer loop retries without limit (the environment) and which it dead-letters."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError, OperationFailure, ServerSelectionTimeoutError

from servicekit.errors import PermanentError, is_infrastructure_error

pytestmark = pytest.mark.unit


def test_a_database_cut_off_while_stopping_is_the_environment_not_the_record():
    # What FerretDB answers for operations in flight when it stops (seen with `make chaos`).
    assert is_infrastructure_error(OperationFailure("context canceled", code=1))
    assert is_infrastructure_error(OperationFailure("interrupted at shutdown", code=11600))
    assert is_infrastructure_error(ServerSelectionTimeoutError("no server"))


def test_errors_of_the_record_itself_are_not_retried_forever():
    assert not is_infrastructure_error(DuplicateKeyError("E11000 duplicate key", code=11000))
    assert not is_infrastructure_error(OperationFailure("document too large", code=10334))
    assert not is_infrastructure_error(PermanentError("bad record"))
