"""The test helpers' own guarantees: names recorded per block, test databases dropped best effort."""

from __future__ import annotations

import logging

import pytest
from pymongo import MongoClient

from servicekit.testing import drop_databases, free_port, recording_names, unique


@pytest.mark.unit
def test_recordings_collect_the_names_given_inside_them():
    before = unique("db")
    with recording_names() as outer:
        a = unique("db")
        with recording_names() as inner:
            b = unique("t")
        c = unique("g")
    assert before not in outer
    assert {a, b, c} <= outer and inner == {b}


@pytest.mark.integration
def test_drop_databases_drops_those_named_and_only_those(infra):
    mine, other = unique("db"), unique("db")
    with MongoClient(infra.mongo_uri) as client:
        for name in (mine, other):
            client[name]["c"].insert_one({"x": 1})
        drop_databases(infra.mongo_uri, [mine, unique("absent"), unique("t") + ".", ""])
        left = set(client.list_database_names())
        client.drop_database(other)
    assert mine not in left and other in left


@pytest.mark.integration
def test_drop_databases_never_fails_a_test(caplog):
    with caplog.at_level(logging.WARNING, logger="servicekit.testing"):
        drop_databases(f"mongodb://127.0.0.1:{free_port()}/", [unique("db")])
    assert "not dropped" in caplog.text
