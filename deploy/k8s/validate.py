"""Renders the kustomize overlays and validates every object offline.

    python -m deploy.k8s.validate            # every rendering (overlay x components), exit 1 on any problem

Core objects are checked against the Kubernetes API's JSON schemas (kubernetes-validate, strict: an
unknown field is an error, as `kubectl apply --validate=strict` makes it); custom resources against their
CRDs' openAPIV3Schema (strict as well), Strimzi's through the npm validators (deploy/k8s/tools.py).
The policy rules live in deploy/k8s/tests/test_policies.py.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from deploy.k8s import tools as k8s_tools

K8S_DIR = Path(__file__).resolve().parent
OVERLAYS_DIR = K8S_DIR / "overlays"
COMPONENTS_DIR = K8S_DIR / "components"
RENDER_DIR = k8s_tools.RUN_DIR / "k8s-render"

Obj = dict[str, Any]

# The CRD-defined kinds we use, and where their schema comes from.
CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobjects.yaml",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_triggerauthentications.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): "mongodbcommunity.mongodb.com_mongodbcommunity.yaml",
}
STRIMZI_GROUP = "kafka.strimzi.io"


@dataclass(frozen=True)
class Rendering:
    """One overlay, optionally with components, as kustomize renders it."""

    overlay: str
    components: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return "+".join((self.overlay, *self.components))


def renderings() -> list[Rendering]:
    """Every overlay alone and with every subset of the components."""
    overlays = sorted(p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").exists())
    components = sorted(p.name for p in COMPONENTS_DIR.iterdir() if (p / "kustomization.yaml").exists())
    subsets = [c for n in range(len(components) + 1) for c in itertools.combinations(components, n)]
    return [Rendering(o, s) for o in overlays for s in subsets]


def render(kustomize: Path, rendering: Rendering) -> list[Obj]:
    """`kustomize build` of the rendering; with components, through a kustomization under .run/."""
    if rendering.components:
        folder = RENDER_DIR / rendering.name
        folder.mkdir(parents=True, exist_ok=True)
        up = Path(*[".."] * len(folder.relative_to(k8s_tools.REPO_ROOT).parts))
        overlay = yaml.safe_load((OVERLAYS_DIR / rendering.overlay / "kustomization.yaml").read_text())
        doc = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            # As if the overlay listed the components itself: their objects join its namespace.
            "namespace": overlay["namespace"],
            "resources": [str(up / "deploy/k8s/overlays" / rendering.overlay)],
            "components": [str(up / "deploy/k8s/components" / c) for c in rendering.components],
        }
        (folder / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    else:
        folder = OVERLAYS_DIR / rendering.overlay
    done = subprocess.run([str(kustomize), "build", str(folder)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kustomize build {rendering.name} failed:\n{done.stderr}")
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def ident(obj: Obj) -> str:
    """Kind/name, how every problem names its object."""
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def is_custom(obj: Obj) -> bool:
    return (obj["apiVersion"], obj["kind"]) in CRD_KINDS or obj["apiVersion"].startswith(STRIMZI_GROUP + "/")


def validate_core(obj: Obj, version: str) -> list[str]:
    """Problems of one built-in object against the Kubernetes API schema of `version`."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        return [f"{ident(obj)}: {path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{ident(obj)}: {exc.message}"]
    return []


def to_json_schema(node: Any) -> Any:
    """A CRD's structural openAPIV3Schema as JSON Schema (draft 4), strict about unknown fields.

    The API server prunes unknown fields of custom resources, and `kubectl apply` (strict field
    validation, the default) reports them: here they are errors. `x-kubernetes-int-or-string` and
    `nullable` become their JSON Schema equivalents; preserve-unknown-fields objects stay open.
    """
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key.startswith("x-kubernetes-") or key in ("nullable", "format", "example", "externalDocs"):
            continue
        else:
            out[key] = to_json_schema(value)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("allOf", []).append({"anyOf": [{"type": "integer"}, {"type": "string"}]})
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    open_object = node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node
    if "properties" in node and not open_object:
        out["additionalProperties"] = False
    return out


@cache
def crd_schema(crd_dir: Path, file: str, api_version: str) -> dict[str, Any]:
    """The JSON Schema of one version of a CRD."""
    crd = yaml.safe_load((crd_dir / file).read_text(encoding="utf-8"))
    version = api_version.split("/")[1]
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return to_json_schema(v["schema"]["openAPIV3Schema"])
    raise KeyError(f"{file} has no version {version}")


def validate_crd_objects(objs: list[Obj], crd_dir: Path) -> list[str]:
    """Problems of the custom resources (except Strimzi's) against their CRDs."""
    import jsonschema

    problems = []
    for obj in objs:
        file = CRD_KINDS.get((obj["apiVersion"], obj["kind"]))
        if file is None:
            continue
        validator = jsonschema.Draft4Validator(crd_schema(crd_dir, file, obj["apiVersion"]))
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in err.path)
            problems.append(f"{ident(obj)}: {path}: {err.message}")
    return problems


def validate_strimzi(objs: list[Obj], node: str, node_modules: Path) -> list[str]:
    """Problems of the Strimzi resources, from the npm validators."""
    strimzi = [o for o in objs if o["apiVersion"].startswith(STRIMZI_GROUP + "/")]
    if not strimzi:
        return []
    done = subprocess.run(
        [node, str(K8S_DIR / "validate_strimzi.mjs"), str(node_modules)],
        input=json.dumps(strimzi),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return [f"the Strimzi validator failed: {done.stderr.strip()}"]
    return [f"{p['kind']}/{p['name']}: {p['error']}" for p in json.loads(done.stdout)]


def validate_all(objs: list[Obj], tools: k8s_tools.Tools) -> list[str]:
    """Every schema problem of a rendering, for every Kubernetes version we support."""
    problems: list[str] = []
    for version in k8s_tools.KUBERNETES_VERSIONS:
        for obj in objs:
            if not is_custom(obj):
                problems += [f"[{version}] {p}" for p in validate_core(obj, version)]
    problems += validate_crd_objects(objs, tools.crd_dir)
    problems += validate_strimzi(objs, tools.node, tools.node_modules)
    return problems


def main() -> int:
    tools = k8s_tools.ensure()
    failed = False
    for rendering in renderings():
        objs = render(tools.kustomize, rendering)
        problems = validate_all(objs, tools)
        print(f"{rendering.name}: {len(objs)} objects, {len(problems)} problems")
        for p in problems:
            print(f"  {p}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
