"""Least privilege on Kafka, checked on every rendering: each KafkaUser may do what contracts/topics.toml says
its service does (plus the explicit exceptions of deploy/k8s/generate.py), and nothing else. The same ACLs
are tried on a real broker with an authorizer by servicekit/tests/test_kafka_acls.py."""

from __future__ import annotations

from collections import defaultdict

from contracts.topics import dead_letter_topic, load_topics
from deploy.k8s.generate import KAFKA_EXTRA_ACLS, KAFKA_USER_OF, KEDA_USER, OPS_USER
from deploy.k8s.validate import Obj

KAFKA_CLUSTER = "zalo-an-ninh"
# Each (user, resource type, name) -> the operations granted on it.
Grants = dict[tuple[str, str, str], set[str]]


def _grants(objects: list[Obj]) -> Grants:
    grants: Grants = defaultdict(set)
    for u in (o for o in objects if o["kind"] == "KafkaUser"):
        user = u["metadata"]["name"]
        authz = u["spec"].get("authorization", {})
        assert authz.get("type") == "simple", f"KafkaUser/{user}: authorization {authz.get('type')!r}, not simple"
        for acl in authz["acls"]:
            r = acl["resource"]
            where = f"KafkaUser/{user}: {r}"
            assert acl.get("type", "allow") == "allow", f"{where}: only allow rules"
            assert r.get("patternType", "literal") == "literal", f"{where}: prefix pattern"
            assert r["type"] in ("topic", "group"), f"{where}: no cluster or transactionalId ACL for a client"
            assert r.get("name") and "*" not in r["name"], f"{where}: wildcard"
            assert acl.get("host", "*") == "*", f"{where}: host {acl.get('host')}"
            assert set(acl["operations"]) <= {"Read", "Write", "Describe"}, f"{where}: {acl['operations']}"
            grants[(user, r["type"], r["name"])].update(acl["operations"])
    return grants


def _user(name: str) -> str | None:
    return KAFKA_USER_OF.get(name, name)


def test_the_cluster_enforces_acls(objects: list[Obj]) -> None:
    kafka = next(o for o in objects if o["kind"] == "Kafka" and o["metadata"]["name"] == KAFKA_CLUSTER)
    authz = kafka["spec"]["kafka"].get("authorization", {})
    assert authz.get("type") == "simple", f"Kafka/{KAFKA_CLUSTER}: authorization {authz}"
    assert not authz.get("superUsers"), f"Kafka/{KAFKA_CLUSTER}: super users {authz['superUsers']}"
    assert "allow.everyone.if.no.acl.found" not in kafka["spec"]["kafka"].get("config", {})


def test_every_producer_and_consumer_of_the_catalogue_is_granted(objects: list[Obj]) -> None:
    grants = _grants(objects)
    for spec in load_topics():
        if spec.dead_letter_of is not None:
            continue
        for producer in spec.producers:
            user = _user(producer)
            assert user, f"{producer} produces {spec.name} but has no Kafka user"
            ops = grants.get((user, "topic", spec.name), set())
            assert {"Write", "Describe"} <= ops, f"KafkaUser/{user} ({producer}) produces {spec.name}: has {ops}"
        for consumer in spec.consumers:
            user = _user(consumer)
            assert user, f"{consumer} consumes {spec.name} but has no Kafka user"
            ops = grants.get((user, "topic", spec.name), set())
            assert {"Read", "Describe"} <= ops, f"KafkaUser/{user} consumes {spec.name}: has {ops}"
            if spec.dead_letter_of is not None:
                continue  # people on call read dead letters; they dead-letter nothing
            dlq = dead_letter_topic(spec.name)
            ops = grants.get((user, "topic", dlq), set())
            assert {"Write", "Describe"} <= ops, f"KafkaUser/{user} dead-letters {spec.name} to {dlq}: has {ops}"
            # servicekit: the consumer group is the service's name.
            assert "Read" in grants.get((user, "group", consumer), set()), f"KafkaUser/{user}: group {consumer}"
    for user, kind, name, operations in KAFKA_EXTRA_ACLS:
        assert set(operations) <= grants.get((user, kind, name), set()), f"KafkaUser/{user}: {kind} {name}"


def test_no_service_writes_a_topic_it_neither_produces_nor_dead_letters(objects: list[Obj]) -> None:
    may_write: dict[str, set[str]] = defaultdict(set)
    for spec in load_topics():
        if spec.dead_letter_of is not None:
            if spec.producers:  # on call replays what was dead-lettered to the original topic
                may_write[OPS_USER].add(spec.dead_letter_of)
            continue
        for producer in spec.producers:
            may_write[_user(producer) or ""].add(spec.name)
        for consumer in spec.consumers:
            may_write[_user(consumer) or ""].add(dead_letter_topic(spec.name))
    for (user, kind, name), ops in _grants(objects).items():
        if "Write" in ops:
            assert kind == "topic" and name in may_write[user], f"KafkaUser/{user} may write {kind} {name}"


def test_every_grant_has_a_reason(objects: list[Obj]) -> None:
    """Reads only of what a service consumes, groups only its own: nothing beyond topics.toml and the table."""
    reasons: Grants = defaultdict(set)
    for spec in load_topics():
        for producer in spec.producers:
            reasons[(_user(producer) or "", "topic", spec.name)] |= {"Write", "Describe"}
        for consumer in spec.consumers:
            user = _user(consumer)
            if user is None:
                continue
            reasons[(user, "topic", spec.name)] |= {"Read", "Describe"}
            reasons[(user, "group", consumer)] |= {"Read"}
            if spec.dead_letter_of is not None:
                if spec.producers:
                    reasons[(OPS_USER, "topic", spec.dead_letter_of)] |= {"Write", "Describe"}
                continue
            reasons[(OPS_USER, "group", consumer)] |= {"Describe"}  # lag, for people on call
            if spec.scale_on_lag:
                reasons[(KEDA_USER, "topic", spec.name)] |= {"Describe"}
                reasons[(KEDA_USER, "group", consumer)] |= {"Describe"}
    for user, kind, name, operations in KAFKA_EXTRA_ACLS:
        reasons[(user, kind, name)] |= set(operations)
    for key, ops in _grants(objects).items():
        assert ops <= reasons.get(key, set()), f"KafkaUser/{key[0]}: {ops - reasons.get(key, set())} on {key[1:]}"


def test_keda_only_describes_what_the_scaled_objects_read(objects: list[Obj]) -> None:
    grants = {(kind, name): ops for (user, kind, name), ops in _grants(objects).items() if user == KEDA_USER}
    assert all(ops == {"Describe"} for ops in grants.values()), f"KafkaUser/{KEDA_USER}: {grants}"
    wanted = set()
    for so in (o for o in objects if o["kind"] == "ScaledObject"):
        for t in so["spec"]["triggers"]:
            if t["type"] == "kafka":
                wanted |= {("topic", t["metadata"]["topic"]), ("group", t["metadata"]["consumerGroup"])}
    assert set(grants) == wanted, (
        f"KafkaUser/{KEDA_USER}: describes {sorted(set(grants) - wanted)} beyond the ScaledObjects' triggers, "
        f"misses {sorted(wanted - set(grants))}"
    )


def test_people_on_call_read_dead_letters_replay_them_and_read_lag_only(objects: list[Obj]) -> None:
    """The runbooks' identity: reads every dead-letter topic (group ops), writes only the topics whose dead
    letters it replays, describes the consumer groups; no other topic read and no group joined but its own."""
    mine = {(kind, name): ops for (user, kind, name), ops in _grants(objects).items() if user == OPS_USER}
    dlqs = {t.name for t in load_topics() if t.dead_letter_of is not None}
    replayed = {t.dead_letter_of for t in load_topics() if t.dead_letter_of is not None and t.producers}
    assert {name for (kind, name), ops in mine.items() if kind == "topic" and "Read" in ops} == dlqs
    assert {name for (kind, name), ops in mine.items() if kind == "topic" and "Write" in ops} == replayed
    assert {name for (kind, name), ops in mine.items() if kind == "group" and "Read" in ops} == {OPS_USER}
    assert ("group", "intent") in mine and mine[("group", "intent")] == {"Describe"}
