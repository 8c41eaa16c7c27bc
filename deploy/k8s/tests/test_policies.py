"""The deployment rules of docs/operations.md, checked on every rendering; failures name the object."""

from __future__ import annotations

import importlib
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.topics import load_topics
from deploy.k8s.generate import CONFIG_DIR, DASHBOARDS_DIR, KNOWLEDGE_DIR
from deploy.k8s.validate import Obj, Rendering
from servicekit.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
OPERATIONS_DOC = REPO_ROOT / "docs" / "operations.md"
DATASOURCE_UID = "zan-prometheus"
PRIVATE_RANGES = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
# Excepted from every rule to the internet: cluster and private ranges, CGNAT, loopback, link-local (cloud metadata).
NEVER_FROM_THE_INTERNET = [
    *PRIVATE_RANGES,
    *(ipaddress.ip_network(n) for n in ("100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16")),
]


@dataclass(frozen=True)
class Deployable:
    """What the manifests must agree on with the code."""

    module: str
    prefix: str
    port: int
    kind: str
    uses_mongo: bool
    settings: str | None = None  # "module:Class" where the settings class exists
    uses_kafka: bool = True


DEPLOYABLES = {
    "gateway-ingress": Deployable(
        "services.gateway.ingress", "INGRESS_", 8080, "StatefulSet", False, "services.gateway.settings:IngressSettings"
    ),
    "gateway-egress": Deployable(
        "services.gateway.egress", "EGRESS_", 8081, "Deployment", True, "services.gateway.settings:EgressSettings"
    ),
    "intent": Deployable("services.intent", "INTENT_", 8082, "Deployment", True, "services.intent.settings:"),
    "reports": Deployable("services.reports", "REPORTS_", 8083, "Deployment", True, "services.reports.settings:"),
    "news": Deployable("services.news", "NEWS_", 8084, "Deployment", True, "services.news.settings:"),
    "console": Deployable(
        "services.console", "CONSOLE_", 8085, "Deployment", False, "services.console.settings:", uses_kafka=False
    ),
}
# What the ingress controller may reach: Zalo's webhooks, and the officer console behind sign-in.
PUBLIC_ENDPOINTS = ("gateway-ingress", "console")
# What may reach the internet (HTTPS only), and why.
INTERNET_CLIENTS = {
    "gateway-egress": "Zalo's OpenAPI and OAuth (openapi.zalo.me, oauth.zaloapp.com)",
    "reports": "the photos citizens attach to reports, downloaded from Zalo's CDN (services/reports/attachments.py)",
}
PARTITIONS = {t.name: t.partitions for t in load_topics()}
CONSUMED = {name: [t.name for t in load_topics() if name in t.consumers and t.scale_on_lag] for name in DEPLOYABLES}
SECRET_ENV = re.compile(r"SECRET|TOKEN|SALT|PASSWORD|MONGO_URI|KEY")
# Kafka: SCRAM-SHA-512 over TLS on Strimzi's internal TLS listener, one KafkaUser per client (docs/operations.md).
KAFKA_CLUSTER = "zalo-an-ninh"
KAFKA_PORT = 9093
KAFKA_CA_SECRET = f"{KAFKA_CLUSTER}-cluster-ca-cert"
KAFKA_CA_DIR = "/etc/zalo-an-ninh/kafka-ca"
KEDA_KAFKA_USER = "keda"
KEDA_KAFKA_AUTH = "keda-kafka"


def _by_kind(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _workloads(objects: list[Obj]) -> dict[str, Obj]:
    found = {
        o["metadata"]["name"]: o
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] in DEPLOYABLES
    }
    assert set(found) == set(DEPLOYABLES), f"workloads missing: {set(DEPLOYABLES) - set(found)}"
    return found


def _container(workload: Obj) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: expected exactly one container"
    return containers[0]


def _namespace(objects: list[Obj]) -> str:
    return next(o["metadata"]["name"] for o in objects if o["kind"] == "Namespace")


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """matchLabels/matchExpressions semantics (In, NotIn, Exists, DoesNotExist)."""
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _pod_labels(workload: Obj) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


# -- workloads ------------------------------------------------------------------------------------


def test_every_deployable_runs_as_its_own_workload_kind(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        d = DEPLOYABLES[name]
        assert w["kind"] == d.kind, f"{name}: expected a {d.kind}"
        c = _container(w)
        assert c["name"] == name, f"{name}: container should be named after the workload"
        assert c["command"] == ["python", "-m", d.module], f"{name}: command {c['command']}"


def test_images_are_pinned(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        image = _container(w)["image"]
        digest = re.search(r"@sha256:[0-9a-f]{64}$", image)
        tag = re.search(r":(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$", image)
        assert "/" in image, f"{name}: image {image} names no registry"
        assert digest or tag, f"{name}: image {image} is pinned by neither digest nor version tag"
        assert ":latest" not in image, f"{name}: image {image} uses latest"


def test_probes(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        c = _container(w)
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", f"{name}: liveness must be /healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{name}: readiness must be /readyz"
        startup = c["startupProbe"]
        assert startup["httpGet"]["path"] == "/healthz", f"{name}: startup probe must be /healthz"
        # The kit retries Kafka and MongoDB for ~2 minutes before the server listens.
        budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        assert budget >= 150, f"{name}: startup probe allows only {budget}s"


def test_resources(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        res = _container(w).get("resources", {})
        for part in ("requests", "limits"):
            for what in ("cpu", "memory"):
                assert what in res.get(part, {}), f"{name}: no {what} {part}"


def test_security_context(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        pod = w["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, f"{name}: pod must set runAsNonRoot"
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: seccompProfile"
        assert pod.get("automountServiceAccountToken") is False, f"{name}: mounts an API token it never uses"
        sc = _container(w).get("securityContext", {})
        assert sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation"
        assert sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem"
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: capabilities must drop ALL"
        assert not sc.get("privileged"), f"{name}: privileged"


def test_tmp_is_a_writable_empty_dir(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        volumes = {v["name"]: v for v in w["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: m for m in _container(w)["volumeMounts"]}
        assert "/tmp" in mounts, f"{name}: /tmp is not mounted"
        assert "emptyDir" in volumes[mounts["/tmp"]["name"]], f"{name}: /tmp must be an emptyDir"


def test_spool_is_a_volume_per_pod(objects: list[Obj]) -> None:
    w = _workloads(objects)["gateway-ingress"]
    env = {e["name"]: e for e in _container(w)["env"]}
    spool_dir = env["INGRESS_SPOOL_DIR"]["value"]
    mounts = {m["mountPath"]: m["name"] for m in _container(w)["volumeMounts"]}
    assert spool_dir in mounts, f"StatefulSet/gateway-ingress: the spool {spool_dir} is not on a volume"
    claims = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
    assert mounts[spool_dir] in claims, "StatefulSet/gateway-ingress: the spool must be a per-pod claim"
    retention = w["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert retention == {"whenDeleted": "Retain", "whenScaled": "Retain"}, "spool claims must outlive their pods"


def test_graceful_termination_covers_the_drain(objects: list[Obj]) -> None:
    drain = ServiceSettings.model_fields["drain_timeout_s"].default
    for name, w in _workloads(objects).items():
        pod = w["spec"]["template"]["spec"]
        grace = pod.get("terminationGracePeriodSeconds", 30)
        pre_stop = _container(w).get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        assert grace >= pre_stop + drain + 10, f"{name}: grace {grace}s < preStop {pre_stop}s + drain {drain}s + 10s"


def test_pods_spread_across_nodes(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        anti = w["spec"]["template"]["spec"].get("affinity", {}).get("podAntiAffinity", {})
        terms = [t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
        terms += anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
        assert any(
            t["topologyKey"] == "kubernetes.io/hostname" and _selects(t["labelSelector"], _pod_labels(w)) for t in terms
        ), f"{name}: no pod anti-affinity on kubernetes.io/hostname"


def test_recommended_labels(objects: list[Obj]) -> None:
    wanted = ["name", "component", "part-of", "instance", "version", "managed-by"]
    for name, w in _workloads(objects).items():
        for where, labels in (("metadata", w["metadata"]["labels"]), ("pod template", _pod_labels(w))):
            missing = [k for k in wanted if f"app.kubernetes.io/{k}" not in labels]
            assert not missing, f"{name}: {where} lacks app.kubernetes.io/{missing}"
        assert _pod_labels(w)["app.kubernetes.io/name"] == name


def test_environment_matches_the_settings(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        d = DEPLOYABLES[name]
        c = _container(w)
        env = {e["name"]: e for e in c["env"]}
        wrong = [n for n in env if not n.startswith(d.prefix)]
        assert not wrong, f"{name}: env vars without the prefix {d.prefix}: {wrong}"
        assert env[f"{d.prefix}HTTP_HOST"]["value"] == "0.0.0.0", f"{name}: must listen on all interfaces"
        assert env[f"{d.prefix}HTTP_PORT"]["value"] == str(d.port), f"{name}: HTTP_PORT"
        assert [p["containerPort"] for p in c["ports"] if p["name"] == "http"] == [d.port], f"{name}: port http"
        assert (f"{d.prefix}MONGO_URI" in env) == d.uses_mongo, f"{name}: MONGO_URI"
        mongo_client = _pod_labels(w).get("zalo-an-ninh/mongodb-client") == "true"
        assert mongo_client == d.uses_mongo, f"{name}: label zalo-an-ninh/mongodb-client"
        kafka_client = _pod_labels(w).get("zalo-an-ninh/kafka-client") == "true"
        assert kafka_client == d.uses_kafka, f"{name}: label zalo-an-ninh/kafka-client"


@pytest.mark.parametrize("name", sorted(DEPLOYABLES))
def test_settings_classes_agree(name: str) -> None:
    d = DEPLOYABLES[name]
    module_name, _, cls_name = (d.settings or "").partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        pytest.skip(f"{module_name} does not exist yet")
    classes = [
        c
        for c in vars(module).values()
        if isinstance(c, type)
        and issubclass(c, ServiceSettings)
        and c is not ServiceSettings
        and (not cls_name or c.__name__ == cls_name)
    ]
    assert classes, f"{module_name}: no settings class"
    cls = classes[0]
    assert cls.model_config.get("env_prefix") == d.prefix, f"{name}: env prefix"
    assert cls.model_fields["http_port"].default == d.port, f"{name}: default port"


def test_secrets_are_references_only(objects: list[Obj]) -> None:
    assert not [o for o in objects if o["kind"] == "Secret"], "a Secret object in the manifests"
    documented = OPERATIONS_DOC.read_text(encoding="utf-8") if OPERATIONS_DOC.exists() else ""
    for name, w in _workloads(objects).items():
        for e in _container(w)["env"]:
            if SECRET_ENV.search(e["name"].split("_", 1)[1]):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                assert ref, f"{name}: {e['name']} must come from a Secret"
                assert f"`{ref['name']}`" in documented, f"{name}: secret {ref['name']} not in docs/operations.md"
                assert f"`{ref['key']}`" in documented, f"{name}: key {ref['key']} not in docs/operations.md"


def test_kafka_clients_authenticate_with_scram_over_tls(objects: list[Obj]) -> None:
    for name, w in _workloads(objects).items():
        d = DEPLOYABLES[name]
        c = _container(w)
        env = {e["name"]: e for e in c["env"]}
        kafka_env = sorted(n for n in env if n.startswith(f"{d.prefix}KAFKA_"))
        volumes = {v["name"]: v for v in w["spec"]["template"]["spec"]["volumes"]}
        ca_volumes = [n for n, v in volumes.items() if v.get("secret", {}).get("secretName") == KAFKA_CA_SECRET]
        if not d.uses_kafka:
            assert not kafka_env, f"{name}: uses no Kafka but sets {kafka_env}"
            assert not ca_volumes, f"{name}: uses no Kafka but mounts the Kafka CA"
            continue
        for var in kafka_env:
            # A typo would be ignored by the settings and leave the client on its PLAINTEXT default.
            field = var.removeprefix(d.prefix).lower()
            assert field in ServiceSettings.model_fields, f"{name}: {var} is no setting of the service kit"
        values = {n.removeprefix(d.prefix): e.get("value") for n, e in env.items()}
        expected = {
            "KAFKA_BOOTSTRAP": f"{KAFKA_CLUSTER}-kafka-bootstrap:{KAFKA_PORT}",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": name,
            "KAFKA_SSL_CAFILE": f"{KAFKA_CA_DIR}/ca.crt",
        }
        for var, value in expected.items():
            assert values.get(var) == value, f"{name}: {d.prefix}{var} is {values.get(var)!r}, expected {value!r}"
        password = env.get(f"{d.prefix}KAFKA_SASL_PASSWORD", {})
        ref = password.get("valueFrom", {}).get("secretKeyRef", {})
        assert (ref.get("name"), ref.get("key")) == (name, "password"), (
            f"{name}: {d.prefix}KAFKA_SASL_PASSWORD must come from the Secret of its KafkaUser ({name}, password)"
        )
        assert not ref.get("optional"), f"{name}: the Kafka password must not be optional"
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        mount = mounts.get(KAFKA_CA_DIR)
        assert mount, f"{name}: the Kafka CA is not mounted at {KAFKA_CA_DIR}"
        assert mount.get("readOnly") is True, f"{name}: the Kafka CA must be mounted read-only"
        assert mount["name"] in ca_volumes, f"{name}: {KAFKA_CA_DIR} is not the Secret {KAFKA_CA_SECRET}"
        items = volumes[mount["name"]]["secret"].get("items")
        assert items is None or {"key": "ca.crt", "path": "ca.crt"} in items, f"{name}: the CA volume lacks ca.crt"


def test_one_kafka_user_per_client(objects: list[Obj]) -> None:
    users = _by_kind(objects, "KafkaUser")
    # The services, KEDA, and "ops": people on call reading dead letters (docs/runbooks.md).
    clients = {n for n, d in DEPLOYABLES.items() if d.uses_kafka} | {KEDA_KAFKA_USER, "ops"}
    assert set(users) == clients, f"KafkaUsers {sorted(users)} != Kafka clients {sorted(clients)}"
    for name, u in users.items():
        assert u["apiVersion"] == "kafka.strimzi.io/v1", f"KafkaUser/{name}: {u['apiVersion']}"
        assert u["metadata"]["labels"].get("strimzi.io/cluster") == KAFKA_CLUSTER, f"KafkaUser/{name}: cluster label"
        auth = u["spec"].get("authentication", {})
        assert auth.get("type") == "scram-sha-512", f"KafkaUser/{name}: authentication {auth}"


def test_configuration_comes_from_the_repository_files(objects: list[Obj]) -> None:
    maps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}

    def one(prefix: str) -> Obj:
        found = [m for n, m in maps.items() if n.startswith(prefix + "-") and len(n) == len(prefix) + 11]
        assert len(found) == 1, f"ConfigMap {prefix}-<hash>: found {len(found)}"
        return found[0]

    config = one("zalo-an-ninh-config")
    for f in CONFIG_DIR.glob("*.json"):
        assert config["data"].get(f.name) == f.read_text(encoding="utf-8"), f"ConfigMap zalo-an-ninh-config: {f.name}"
    knowledge = one("intent-knowledge")
    for f in KNOWLEDGE_DIR.glob("*.yaml"):
        assert knowledge["data"].get(f.name) == f.read_text(encoding="utf-8"), f"ConfigMap intent-knowledge: {f.name}"


# -- availability and scaling -----------------------------------------------------------------------


def test_every_workload_has_a_disruption_budget(objects: list[Obj]) -> None:
    pdbs = _by_kind(objects, "PodDisruptionBudget").values()
    for name, w in _workloads(objects).items():
        covering = [p for p in pdbs if _selects(p["spec"]["selector"], _pod_labels(w))]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets select it"


def test_webhook_endpoint_scales_on_cpu(objects: list[Obj]) -> None:
    hpas = _by_kind(objects, "HorizontalPodAutoscaler")
    hpa = hpas["gateway-ingress"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "gateway-ingress"}
    assert hpa["spec"]["minReplicas"] >= 1
    assert any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])


def test_consumers_scale_on_lag_within_their_partitions(objects: list[Obj]) -> None:
    scaled = _by_kind(objects, "ScaledObject")
    namespace = _namespace(objects)
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in _by_kind(objects, "HorizontalPodAutoscaler").values()}
    for name, topics in CONSUMED.items():
        if not topics:
            continue
        so = scaled.get(name)
        assert so is not None, f"{name} consumes {topics} but has no ScaledObject"
        assert name not in hpa_targets, f"{name}: an HPA and a ScaledObject both scale it"
        assert so["spec"]["scaleTargetRef"]["name"] == name
        kafka = [t for t in so["spec"]["triggers"] if t["type"] == "kafka"]
        assert sorted(t["metadata"]["topic"] for t in kafka) == sorted(topics), (
            f"ScaledObject/{name}: kafka triggers {[t['metadata']['topic'] for t in kafka]} != consumed {topics}"
        )
        for t in kafka:
            md = t["metadata"]
            assert md["consumerGroup"] == name, f"ScaledObject/{name}: consumerGroup {md['consumerGroup']}"
            assert md["bootstrapServers"] == f"{KAFKA_CLUSTER}-kafka-bootstrap.{namespace}.svc:{KAFKA_PORT}", (
                f"ScaledObject/{name}: bootstrapServers {md['bootstrapServers']} (KEDA needs the qualified name)"
            )
            auth_ref = t.get("authenticationRef", {})
            assert auth_ref.get("name") == KEDA_KAFKA_AUTH, f"ScaledObject/{name}: authenticationRef {auth_ref}"
            assert auth_ref.get("kind", "TriggerAuthentication") == "TriggerAuthentication"
            # Settings of the trigger itself would override or contradict the TriggerAuthentication's.
            inline = sorted(set(md) & {"sasl", "tls", "username", "password", "ca"})
            assert not inline, f"ScaledObject/{name}: Kafka auth settings in the trigger: {inline}"
            assert md.get("allowIdleConsumers", "false") == "false", f"ScaledObject/{name}: allowIdleConsumers"
        ceiling = min(PARTITIONS[t] for t in topics)
        assert so["spec"]["maxReplicaCount"] <= ceiling, (
            f"ScaledObject/{name}: maxReplicaCount {so['spec']['maxReplicaCount']} > {ceiling} partitions"
        )
        assert 1 <= so["spec"]["minReplicaCount"] <= so["spec"]["maxReplicaCount"]


def test_keda_reads_lag_as_its_kafka_user_over_tls(objects: list[Obj]) -> None:
    auths = _by_kind(objects, "TriggerAuthentication")
    assert KEDA_KAFKA_AUTH in auths, f"no TriggerAuthentication/{KEDA_KAFKA_AUTH}"
    spec = auths[KEDA_KAFKA_AUTH]["spec"]
    secrets = {r["parameter"]: (r["name"], r["key"]) for r in spec.get("secretTargetRef", [])}
    maps = _by_kind(objects, "ConfigMap")
    values = {}
    for r in spec.get("configMapTargetRef", []):
        cm = maps.get(r["name"])
        assert cm is not None, f"TriggerAuthentication/{KEDA_KAFKA_AUTH}: no ConfigMap {r['name']}"
        values[r["parameter"]] = cm.get("data", {}).get(r["key"])
    assert not set(secrets) & set(values), "TriggerAuthentication: a parameter from both a Secret and a ConfigMap"
    assert set(secrets) | set(values) == {"sasl", "username", "password", "tls", "ca"}, (
        f"TriggerAuthentication/{KEDA_KAFKA_AUTH}: parameters {sorted(set(secrets) | set(values))}"
    )
    # The password and the CA are Strimzi's Secrets; the rest is not secret (and may not be in the manifests).
    assert secrets.get("password") == (KEDA_KAFKA_USER, "password"), f"password from {secrets.get('password')}"
    assert secrets.get("ca") == (KAFKA_CA_SECRET, "ca.crt"), f"ca from {secrets.get('ca')}"
    assert values == {"sasl": "scram_sha512", "username": KEDA_KAFKA_USER, "tls": "enable"}, f"settings {values}"


# -- network ------------------------------------------------------------------------------------------


def _policies(objects: list[Obj]) -> list[Obj]:
    return list(_by_kind(objects, "NetworkPolicy").values())


def _selected(policy: Obj, objects: list[Obj]) -> list[str]:
    return [n for n, w in _workloads(objects).items() if _selects(policy["spec"]["podSelector"], _pod_labels(w))]


def _is_prometheus(peer: dict[str, Any]) -> bool:
    ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
    pod = peer.get("podSelector", {}).get("matchLabels", {})
    return ns == {"kubernetes.io/metadata.name": "monitoring"} and pod == {"app.kubernetes.io/name": "prometheus"}


def _is_ingress_controller(peer: dict[str, Any]) -> bool:
    ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
    return ns == {"kubernetes.io/metadata.name": "ingress-nginx"} and "podSelector" in peer


def test_default_deny_all(objects: list[Obj]) -> None:
    deny = [
        p
        for p in _policies(objects)
        if p["spec"]["podSelector"] == {}
        and sorted(p["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "no default deny-all NetworkPolicy"


def test_only_the_public_endpoints_accept_traffic_from_outside(objects: list[Obj]) -> None:
    for p in _policies(objects):
        pname = f"NetworkPolicy/{p['metadata']['name']}"
        for rule in p["spec"].get("ingress", []):
            peers = rule.get("from")
            assert peers, f"{pname}: an ingress rule open to every source"
            for peer in peers:
                if not ("namespaceSelector" in peer or "ipBlock" in peer):
                    continue  # same namespace
                if _is_prometheus(peer):
                    ports = [port.get("port") for port in rule.get("ports", [])]
                    assert ports == ["http"], f"{pname}: Prometheus may reach the http port only, not {ports}"
                    continue
                assert _is_ingress_controller(peer), f"{pname}: ingress from outside the namespace: {peer}"
                selected = _selected(p, objects)
                assert len(selected) == 1 and selected[0] in PUBLIC_ENDPOINTS, (
                    f"{pname}: the ingress controller may reach {selected}"
                )


def _public(block: dict[str, Any]) -> bool:
    """Whether an ipBlock reaches any address outside the private ranges."""
    cidr = ipaddress.ip_network(block["cidr"])
    return not any(cidr.subnet_of(r) for r in PRIVATE_RANGES)


def test_only_the_internet_clients_reach_the_internet(objects: list[Obj]) -> None:
    for p in _policies(objects):
        pname = f"NetworkPolicy/{p['metadata']['name']}"
        for rule in p["spec"].get("egress", []):
            peers = rule.get("to")
            assert peers, f"{pname}: an egress rule to every destination"
            ports = sorted(port.get("port") for port in rule.get("ports", []))
            for peer in peers:
                block = peer.get("ipBlock")
                if block is None or not _public(block):
                    continue
                if ports == [443]:
                    selected = _selected(p, objects)
                    assert len(selected) == 1 and selected[0] in INTERNET_CLIENTS, (
                        f"{pname}: internet on 443 for {selected}"
                    )
                    protocols = {port.get("protocol", "TCP") for port in rule["ports"]}
                    assert protocols == {"TCP"}, f"{pname}: internet on 443 over {protocols}"
                    excepted = [ipaddress.ip_network(c) for c in block.get("except", [])]
                    for r in NEVER_FROM_THE_INTERNET:
                        assert any(r.subnet_of(e) for e in excepted), f"{pname}: 443 to the internet must except {r}"
                elif ports == [27017]:
                    # External MongoDB: the services that own a database, on MongoDB's port only.
                    assert p["spec"]["podSelector"] == {"matchLabels": {"zalo-an-ninh/mongodb-client": "true"}}
                else:
                    pytest.fail(f"{pname}: egress outside the cluster on ports {ports}")


def test_the_internet_clients_reach_https(objects: list[Obj]) -> None:
    """Each of INTERNET_CLIENTS has its rule (a missing one breaks the service only in production)."""
    reaching = set()
    for p in _policies(objects):
        for rule in p["spec"].get("egress", []):
            ports = [(port.get("port"), port.get("protocol", "TCP")) for port in rule.get("ports", [])]
            blocks = [peer["ipBlock"] for peer in rule.get("to", []) if "ipBlock" in peer]
            if ports == [(443, "TCP")] and any(_public(b) for b in blocks):
                reaching.update(_selected(p, objects))
    assert reaching == set(INTERNET_CLIENTS), f"HTTPS to the internet: {sorted(reaching)}"


def test_services_reach_kafka_and_prometheus_reaches_them(objects: list[Obj]) -> None:
    policies = _policies(objects)
    for name, w in _workloads(objects).items():
        mine = [p for p in policies if _selects(p["spec"]["podSelector"], _pod_labels(w)) and p["spec"]["podSelector"]]
        assert any(sorted(p["spec"]["policyTypes"]) == ["Egress", "Ingress"] for p in mine), f"{name}: no own policy"
        scraped = any(
            _is_prometheus(peer) for p in mine for r in p["spec"].get("ingress", []) for peer in r.get("from", [])
        )
        assert scraped, f"{name}: Prometheus may not scrape it"
        kafka = any(
            peer.get("podSelector", {}).get("matchLabels", {}).get("strimzi.io/broker-role") == "true"
            and [port["port"] for port in r.get("ports", [])] == [KAFKA_PORT]
            for p in mine
            for r in p["spec"].get("egress", [])
            for peer in r.get("to", [])
        )
        if DEPLOYABLES[name].uses_kafka:
            assert kafka, f"{name}: may not reach the Kafka brokers"
        else:
            assert not kafka, f"{name}: uses no Kafka but may reach the brokers"


def test_every_pod_resolves_names(objects: list[Obj]) -> None:
    dns = [
        p
        for p in _policies(objects)
        if p["spec"]["podSelector"] == {}
        for r in p["spec"].get("egress", [])
        if {port["port"] for port in r.get("ports", [])} == {53}
    ]
    assert dns, "no DNS egress policy"


def test_kafka_listener_admits_only_clients(objects: list[Obj]) -> None:
    kafka = _by_kind(objects, "Kafka")[KAFKA_CLUSTER]
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener.get("networkPolicyPeers"), f"Kafka/zalo-an-ninh: listener {listener['name']} open to all pods"


def test_kafka_listeners_are_tls_with_scram(objects: list[Obj]) -> None:
    kafka = _by_kind(objects, "Kafka")[KAFKA_CLUSTER]
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert [ls["port"] for ls in listeners] == [KAFKA_PORT], f"Kafka/zalo-an-ninh: listener ports {listeners}"
    for listener in listeners:
        lname = f"Kafka/zalo-an-ninh: listener {listener['name']}"
        assert listener["type"] == "internal", f"{lname}: type {listener['type']}"
        assert listener.get("tls") is True, f"{lname}: not TLS"
        assert listener.get("authentication", {}).get("type") == "scram-sha-512", f"{lname}: not SCRAM-SHA-512"
    # Without the user operator no KafkaUser becomes a user, and no client Secret is ever written.
    assert "userOperator" in kafka["spec"].get("entityOperator", {}), "Kafka/zalo-an-ninh: no user operator"


# -- traffic in and metrics out -------------------------------------------------------------------


def test_webhook_ingress_has_tls_and_routes_only_zalo(objects: list[Obj]) -> None:
    ingresses = _by_kind(objects, "Ingress")
    assert sorted(ingresses) == sorted(PUBLIC_ENDPOINTS), f"Ingresses: {list(ingresses)}"
    ing = ingresses["gateway-ingress"]
    hosts = [r["host"] for r in ing["spec"]["rules"]]
    tls_hosts = [h for t in ing["spec"]["tls"] for h in t["hosts"]]
    assert hosts and sorted(hosts) == sorted(tls_hosts), f"Ingress/gateway-ingress: TLS {tls_hosts} != hosts {hosts}"
    assert all(t.get("secretName") for t in ing["spec"]["tls"])
    for rule in ing["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] == "gateway-ingress"
            assert path["path"] in ("/zalo/webhook", "/zalo_verifier"), (
                f"Ingress/gateway-ingress exposes {path['path']}"
            )


def test_console_ingress_has_tls_and_lets_only_signed_in_officers_through(objects: list[Obj]) -> None:
    ing = _by_kind(objects, "Ingress")["console"]
    hosts = [r["host"] for r in ing["spec"]["rules"]]
    tls_hosts = [h for t in ing["spec"]["tls"] for h in t["hosts"]]
    assert hosts and sorted(hosts) == sorted(tls_hosts), f"Ingress/console: TLS {tls_hosts} != hosts {hosts}"
    assert all(t.get("secretName") for t in ing["spec"]["tls"])
    for rule in ing["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            assert path["backend"]["service"]["name"] == "console", "Ingress/console routes to another service"
    notes = ing["metadata"].get("annotations", {})
    # External authentication: every request is checked by oauth2-proxy, whose token replaces the client's.
    assert notes.get("nginx.ingress.kubernetes.io/auth-url", "").startswith("https://"), "Ingress/console: auth-url"
    assert notes.get("nginx.ingress.kubernetes.io/auth-signin"), "Ingress/console: auth-signin"
    passed = [h.strip() for h in notes.get("nginx.ingress.kubernetes.io/auth-response-headers", "").split(",")]
    assert "Authorization" in passed, "Ingress/console: the officer's token must come from oauth2-proxy"


def test_production_never_offers_the_development_sign_in(objects: list[Obj], rendering: Rendering) -> None:
    env = {e["name"]: e for e in _container(_workloads(objects)["console"])["env"]}
    enabled = env.get("CONSOLE_DEV_LOGIN", {}).get("value", "false").strip().lower() not in ("false", "0", "no", "")
    dev_keys = sorted(n for n in env if n.startswith("CONSOLE_DEV_") and n != "CONSOLE_DEV_LOGIN")
    # Only prod is bound by this rule (a throwaway cluster may turn it on in its own overlay); today no
    # overlay does, and the base keeps it off explicitly.
    if rendering.overlay == "prod":
        assert not enabled, f"{rendering.name}: the console's development sign-in is enabled"
        assert not dev_keys, f"{rendering.name}: development token settings in production: {dev_keys}"


def test_every_workload_has_a_service_and_a_service_monitor(objects: list[Obj]) -> None:
    services = _by_kind(objects, "Service")
    monitors = _by_kind(objects, "ServiceMonitor")
    for name in _workloads(objects):
        svc = services.get(name)
        assert svc, f"{name}: no Service"
        assert [p["name"] for p in svc["spec"]["ports"]] == ["http"], f"Service/{name}: ports"
        sm = monitors.get(name)
        assert sm, f"{name}: no ServiceMonitor"
        assert _selects(sm["spec"]["selector"], svc["metadata"]["labels"]), f"ServiceMonitor/{name} misses its Service"
        assert [(e["port"], e["path"]) for e in sm["spec"]["endpoints"]] == [("http", "/metrics")]


def test_dashboards_and_datasource_are_provisioned(objects: list[Obj]) -> None:
    maps = _by_kind(objects, "ConfigMap")
    dashboards = {n: m for n, m in maps.items() if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"}
    expected = {f"grafana-dashboard-{p.stem}" for p in DASHBOARDS_DIR.glob("*.json")}
    assert set(dashboards) == expected
    for m in dashboards.values():
        for text in m["data"].values():
            json.loads(text)
    sources = [m for m in maps.values() if m["metadata"].get("labels", {}).get("grafana_datasource") == "1"]
    assert len(sources) == 1 and f"uid: {DATASOURCE_UID}" in next(iter(sources[0]["data"].values()))


def test_alert_rules_are_deployed(objects: list[Obj]) -> None:
    rules = _by_kind(objects, "PrometheusRule")
    assert "zalo-an-ninh" in rules
    alerts = [r["alert"] for g in rules["zalo-an-ninh"]["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert alerts, "PrometheusRule/zalo-an-ninh has no alert"


# -- Kafka ----------------------------------------------------------------------------------------


def test_kafka_is_kraft_with_node_pools(objects: list[Obj], rendering: Rendering) -> None:
    pools = [o for o in objects if o["kind"] == "KafkaNodePool"]
    roles = {r for p in pools for r in p["spec"]["roles"]}
    assert roles == {"controller", "broker"}, f"{rendering.name}: node pool roles {roles}"
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == "zalo-an-ninh" for p in pools)
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    for t in (o for o in objects if o["kind"] == "KafkaTopic"):
        spec = t["spec"]
        assert spec["replicas"] <= brokers, f"KafkaTopic/{t['metadata']['name']}: more replicas than brokers"
        assert spec["config"]["min.insync.replicas"] < spec["replicas"], (
            f"KafkaTopic/{t['metadata']['name']}: min.insync.replicas leaves no broker to lose"
        )


def test_one_kafka_topic_per_catalogue_entry(objects: list[Obj]) -> None:
    topics = {o["metadata"]["name"]: o for o in objects if o["kind"] == "KafkaTopic"}
    assert sorted(topics) == sorted(PARTITIONS), "KafkaTopics differ from contracts/topics.toml"
    for spec in load_topics():
        t = topics[spec.name]["spec"]
        assert t["partitions"] == spec.partitions, f"KafkaTopic/{spec.name}: partitions"
        assert t["config"]["retention.ms"] == spec.retention_ms, f"KafkaTopic/{spec.name}: retention.ms"
