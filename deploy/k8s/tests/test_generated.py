"""The derived files of deploy/k8s match their sources (run `python -m deploy.k8s.generate` to fix)."""

from __future__ import annotations

import yaml

from contracts.topics import load_topics
from deploy.k8s.generate import BASE, stale_files


def test_no_derived_file_is_stale() -> None:
    stale = stale_files()
    assert not stale, "stale (run `python -m deploy.k8s.generate`):\n" + "\n".join(stale)


def test_kafka_topics_are_the_catalogue() -> None:
    docs = list(yaml.safe_load_all((BASE / "kafka" / "kafka-kafkatopic.yaml").read_text(encoding="utf-8")))
    assert [d["metadata"]["name"] for d in docs] == [t.name for t in load_topics()]
    assert all(d["kind"] == "KafkaTopic" for d in docs)
