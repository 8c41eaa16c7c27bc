"""Apache Kafka 4.x in KRaft mode, one combined broker/controller process on loopback.

The jars come from Maven Central through Maven (kafka/pom.xml); storage is formatted once; the
heap is capped because the broker shares two cores with everything else.

`private_broker()` starts a second broker of its own (free ports, a run folder under .run/private, the
same jars) that enforces ACLs, for tests that must not change the shared one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from devstack import procs
from devstack.paths import DEVSTACK_DIR, LOCAL_KAFKA_PASSWORD, LOCAL_KAFKA_USER, StackConfig

NAME = "kafka"
POM = DEVSTACK_DIR / "kafka" / "pom.xml"
LOG4J = DEVSTACK_DIR / "kafka" / "log4j2.yaml"
CREATE_ACLS = DEVSTACK_DIR / "kafka" / "CreateAcls.java"
HEALTH_TOPIC = "_devstack.health"
# (principal, resource type, pattern type, resource name, operation), names as Kafka's Java enums:
# ("User:intent", "TOPIC", "LITERAL", "zalo.events.v1", "READ").
AclBinding = tuple[str, str, str, str, str]


def _home(cfg: StackConfig) -> Path:
    return cfg.run_dir / "kafka"


def install(cfg: StackConfig) -> None:
    """Fetch the broker's jars unless the same POM was installed already."""
    lib = _home(cfg) / "lib"
    marker = lib / ".pom-sha256"
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()
    if marker.exists() and marker.read_text() == digest:
        return
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise procs.StartError("Kafka needs Java 17+ and Maven on PATH (apt-get install openjdk-17-jre-headless maven)")
    shutil.rmtree(lib, ignore_errors=True)
    lib.mkdir(parents=True)
    procs.run_checked(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={lib}",
            "-DincludeScope=runtime",
        ],
        "maven: fetch the Kafka broker jars",
    )
    marker.write_text(digest)


def _write_config(cfg: StackConfig, acl_users: Mapping[str, str] | None = None) -> None:
    home = _home(cfg)
    (home / "data").mkdir(parents=True, exist_ok=True)
    plain_users = {LOCAL_KAFKA_USER: LOCAL_KAFKA_PASSWORD, **(acl_users or {})}
    plain_login = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required"
        + "".join(f' user_{name}="{password}"' for name, password in plain_users.items())
        + ";"
    )
    scram_login = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    props = f"""# Written by devstack; edit devstack/kafka.py instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cfg.kafka_controller_port}
listeners=PLAINTEXT://127.0.0.1:{cfg.kafka_port},CONTROLLER://127.0.0.1:{cfg.kafka_controller_port},SASL_PLAINTEXT://127.0.0.1:{cfg.sasl_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{cfg.kafka_port},SASL_PLAINTEXT://127.0.0.1:{cfg.sasl_port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT
# A SASL listener, so that the services' Kafka authentication settings are tested against a real broker.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config={plain_login}
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={scram_login}
log.dirs={home / "data"}
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.check.interval.ms=300000
num.network.threads=2
num.io.threads=4
background.threads=4
"""
    if acl_users is not None:
        props += """# ACLs enforced (a private broker: private_broker()). The PLAINTEXT and CONTROLLER listeners
# authenticate nobody, so their principal, ANONYMOUS, is the broker itself and the test's admin: a super
# user. The SASL_PLAINTEXT listener's users may do what their ACLs allow, nothing else.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
"""
    (home / "server.properties").write_text(props)


def _java(cfg: StackConfig, main: str, *args: str) -> list[str]:
    return [
        "java",
        f"-Xms{min(256, _mb(cfg.kafka_heap))}m",
        f"-Xmx{cfg.kafka_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J}",
        "-cp",
        str(_home(cfg) / "lib" / "*"),
        main,
        *args,
    ]


def _mb(heap: str) -> int:
    heap = heap.lower()
    return int(heap[:-1]) * 1024 if heap.endswith("g") else int(heap.rstrip("m"))


def format_storage(cfg: StackConfig) -> None:
    """Format the KRaft log directory once (a fresh cluster id)."""
    home = _home(cfg)
    if (home / "data" / "meta.properties").exists():
        return
    cluster_id = "-"
    while cluster_id.startswith("-"):  # kafka-storage would read a leading "-" as an option
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    procs.run_checked(
        _java(
            cfg,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(home / "server.properties"),
            # SCRAM credentials live in the cluster metadata; KRaft takes the first ones at format time.
            "--add-scram",
            f"SCRAM-SHA-512=[name={LOCAL_KAFKA_USER},password={LOCAL_KAFKA_PASSWORD}]",
        ),
        "kafka storage format",
    )


def start(cfg: StackConfig, timeout_s: float = 120.0, *, acl_users: Mapping[str, str] | None = None) -> None:
    """Install, format and start the broker unless it runs; return once a round trip works.

    `acl_users` (name -> password), for a private broker only: enforce ACLs, and let these users in on the
    SASL listener with PLAIN."""
    if procs.running_pid(cfg, NAME) is None:
        install(cfg)
        _write_config(cfg, acl_users)
        format_storage(cfg)
        procs.start(cfg, NAME, _java(cfg, "kafka.Kafka", str(_home(cfg) / "server.properties")))
    wait_ready(cfg, timeout_s)


def wait_ready(cfg: StackConfig, timeout_s: float) -> None:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # connection refused is expected while it boots
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if procs.running_pid(cfg, NAME) is None:
            raise procs.StartError(f"Kafka exited. Log tail:\n{procs.log_tail(cfg, NAME)}")
        try:
            asyncio.run(round_trip(cfg.kafka_bootstrap))
            return
        except Exception as exc:
            last = exc
            time.sleep(1.0)
    raise procs.StartError(
        f"Kafka not usable on {cfg.kafka_bootstrap} after {timeout_s:.0f}s ({last!r}). Log tail:\n"
        f"{procs.log_tail(cfg, NAME)}"
    )


async def round_trip(bootstrap: str, timeout_s: float = 15.0) -> None:
    """Produce one record with acks=all and idempotence, then consume it back."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(HEALTH_TOPIC, 1, 1)])
    finally:
        await admin.close()
    token = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        meta = await asyncio.wait_for(producer.send_and_wait(HEALTH_TOPIC, token), timeout_s)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        from aiokafka import TopicPartition

        tp = TopicPartition(HEALTH_TOPIC, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        msg = await asyncio.wait_for(consumer.getone(), timeout_s)
        if msg.value != token:
            raise RuntimeError("round trip returned another record")
    finally:
        await consumer.stop()


def stop(cfg: StackConfig) -> bool:
    return procs.stop(cfg, NAME, timeout_s=30.0)


# -- a private broker with an authorizer -------------------------------------------------------------


def private_config(tag: str, under: str = "private", heap: str = "384m") -> StackConfig:
    """A run folder (.run/<under>/<tag>) and free ports of its own (no FerretDB); the installed jars are
    shared (linked)."""
    shared = StackConfig.from_env()
    install(shared)
    cfg = StackConfig(
        run_dir=shared.run_dir / under / tag,
        kafka_port=procs.free_port(),
        kafka_controller_port=procs.free_port(),
        ferretdb_port=0,
        kafka_heap=heap,
        kafka_sasl_port=procs.free_port(),
    )
    _home(cfg).mkdir(parents=True)
    (_home(cfg) / "lib").symlink_to(_home(shared) / "lib")
    return cfg


@contextlib.contextmanager
def private_broker(tag: str, acl_users: Mapping[str, str], timeout_s: float = 60.0) -> Iterator[StackConfig]:
    """A broker of its own that enforces ACLs, with `acl_users` (name -> password) as PLAIN users of its SASL
    listener (`cfg.kafka_sasl_bootstrap`) and its PLAINTEXT listener (`cfg.kafka_bootstrap`) a super user.
    Stopped and deleted on leaving, also on failure; its log is kept only while it runs."""
    cfg = private_config(tag)
    try:
        start(cfg, timeout_s, acl_users=acl_users)
        yield cfg
    finally:
        stop(cfg)
        shutil.rmtree(cfg.run_dir, ignore_errors=True)


def create_acls(cfg: StackConfig, bindings: Iterable[AclBinding], timeout_s: float = 60.0) -> None:
    """Allow these bindings (from any host) through the PLAINTEXT listener, in one JVM (the Java source
    CreateAcls.java, run as it is); returns once the broker enforces them. For a broker with no ACLs yet."""
    lines = "".join("\t".join(b) + "\n" for b in dict.fromkeys(bindings))
    argv = [
        "java",
        "-Xmx128m",
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        f"-Dlog4j2.configurationFile={LOG4J}",
        "-cp",
        str(_home(cfg) / "lib" / "*"),
        str(CREATE_ACLS),
        cfg.kafka_bootstrap,
    ]
    done = subprocess.run(argv, input=lines, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise procs.StartError(
            f"creating ACLs failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
