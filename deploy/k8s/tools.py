"""The offline tools of `make k8s-check`, installed into .run/ by the project itself (idempotent).

`python -m deploy.k8s.tools` installs everything and prints where; the test fixtures call `ensure()`.

- kustomize: built from its Go module with `go install` (pinned), into .run/bin.
- Core API schemas: the `kubernetes-validate` package (pinned; it bundles the JSON schemas of every
  Kubernetes minor version it supports), into the project's virtual environment when missing.
- CRD schemas of the operators the manifests use. KEDA, prometheus-operator and the MongoDB Community
  operator ship their CRDs inside their Go modules: `go mod download` fetches the module, we copy the
  few CRD files we need into .run/k8s-schemas (read at test time, never committed). Strimzi publishes
  no CRD file to a registry we can reach, so its resources are checked with the validators of the npm
  package @kubernetes-models/strimzi-kafka-operator, which are generated from Strimzi's CRDs.

Every step is skipped when its result is already there at the pinned version; a version change in this
file re-installs.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = REPO_ROOT / ".run"
BIN_DIR = RUN_DIR / "bin"

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.8.1"
KUBERNETES_VALIDATE_VERSION = "1.37.0"

# The Kubernetes versions the rendered manifests must be valid for: the newest that kubernetes-validate
# bundles, and an older one still run by conservative managed offerings.
KUBERNETES_VERSIONS = ("1.37", "1.33")

# (Go module, version, path inside the module) of every CRD we validate custom resources against.
CRD_SOURCES: tuple[tuple[str, str, str], ...] = (
    ("github.com/kedacore/keda/v2", "v2.21.0", "config/crd/bases/keda.sh_scaledobjects.yaml"),
    ("github.com/kedacore/keda/v2", "v2.21.0", "config/crd/bases/keda.sh_triggerauthentications.yaml"),
    (
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
    ),
    (
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ),
    (
        "github.com/mongodb/mongodb-kubernetes-operator",
        "v0.13.0",
        "config/crd/bases/mongodbcommunity.mongodb.com_mongodbcommunity.yaml",
    ),
)

# npm packages whose generated validators check Strimzi resources (built from Strimzi 0.49.0's CRDs).
NPM_PACKAGES = {"@kubernetes-models/strimzi-kafka-operator": "1.0.1"}

SCHEMAS_DIR = RUN_DIR / "k8s-schemas"
CRD_DIR = SCHEMAS_DIR / "crds"
NODE_DIR = SCHEMAS_DIR / "node"


class ToolError(RuntimeError):
    """A tool could not be installed; the message says which and why."""


@dataclass(frozen=True)
class Tools:
    """Where the installed tools are."""

    kustomize: Path
    crd_dir: Path
    node_modules: Path
    node: str


def _run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(
            cmd, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True, check=False, timeout=900
        )
    except FileNotFoundError as exc:
        raise ToolError(f"{cmd[0]} is not installed: {exc}") from exc
    if done.returncode != 0:
        raise ToolError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def _go_env() -> dict[str, str]:
    # GOTOOLCHAIN=local: never fetch another Go toolchain; GOFLAGS=-mod=mod: we run outside any go.mod.
    return {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "GOBIN": str(BIN_DIR)}


def ensure_kustomize() -> Path:
    """kustomize at the pinned version in .run/bin (built with `go install` on first use)."""
    target = BIN_DIR / "kustomize"
    if target.exists():
        try:
            if _run([str(target), "version"]).strip() == KUSTOMIZE_VERSION:
                return target
        except ToolError:
            pass
    if shutil.which("go") is None:
        raise ToolError("Go is needed to build kustomize (go install); install Go 1.24 or newer")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        _run(["go", "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"], env=_go_env(), cwd=Path(tmp))
    return target


def ensure_kubernetes_validate() -> None:
    """The pinned kubernetes-validate in this interpreter's environment."""
    try:
        if importlib.metadata.version("kubernetes-validate") == KUBERNETES_VALIDATE_VERSION:
            return
    except importlib.metadata.PackageNotFoundError:
        pass
    _run([sys.executable, "-m", "pip", "install", "-q", f"kubernetes-validate=={KUBERNETES_VALIDATE_VERSION}"])


def _stamp(name: str, value: object) -> tuple[Path, str]:
    return SCHEMAS_DIR / f"{name}.stamp", json.dumps(value, sort_keys=True)


def _stamped(name: str, value: object) -> bool:
    path, text = _stamp(name, value)
    return path.exists() and path.read_text() == text


def _write_stamp(name: str, value: object) -> None:
    path, text = _stamp(name, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def ensure_crds() -> Path:
    """The CRD files of CRD_SOURCES in .run/k8s-schemas/crds."""
    if _stamped("crds", CRD_SOURCES) and all((CRD_DIR / Path(p).name).exists() for _, _, p in CRD_SOURCES):
        return CRD_DIR
    if shutil.which("go") is None:
        raise ToolError("Go is needed to download the operators' CRDs (go mod download)")
    CRD_DIR.mkdir(parents=True, exist_ok=True)
    dirs: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for module, version, path in CRD_SOURCES:
            key = f"{module}@{version}"
            if key not in dirs:
                info = json.loads(_run(["go", "mod", "download", "-json", key], env=_go_env(), cwd=Path(tmp)))
                if "Dir" not in info:
                    raise ToolError(f"go mod download {key}: {info.get('Error', info)}")
                dirs[key] = Path(info["Dir"])
            source = dirs[key] / path
            if not source.exists():
                raise ToolError(f"{key} has no {path}")
            shutil.copyfile(source, CRD_DIR / source.name)
    _write_stamp("crds", CRD_SOURCES)
    return CRD_DIR


def ensure_npm_validators() -> Path:
    """node_modules with the Strimzi validators, in .run/k8s-schemas/node."""
    modules = NODE_DIR / "node_modules"
    if _stamped("npm", NPM_PACKAGES) and all((modules / name).exists() for name in NPM_PACKAGES):
        return modules
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise ToolError("Node.js and npm are needed for the Strimzi validators")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "zalo-an-ninh-k8s-validators", "private": True, "type": "module"}
    (NODE_DIR / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    specs = [f"{name}@{version}" for name, version in NPM_PACKAGES.items()]
    _run(["npm", "install", "--no-audit", "--no-fund", "--save-exact", "--loglevel=error", *specs], cwd=NODE_DIR)
    _write_stamp("npm", NPM_PACKAGES)
    return modules


def ensure() -> Tools:
    """Every tool of the offline manifest checks, installed if missing."""
    ensure_kubernetes_validate()
    kustomize = ensure_kustomize()
    crd_dir = ensure_crds()
    modules = ensure_npm_validators()
    node = shutil.which("node")
    assert node is not None
    return Tools(kustomize=kustomize, crd_dir=crd_dir, node_modules=modules, node=node)


def main() -> int:
    try:
        tools = ensure()
    except ToolError as exc:
        print(f"deploy.k8s.tools: {exc}", file=sys.stderr)
        return 1
    print(f"kustomize   {tools.kustomize} ({KUSTOMIZE_VERSION})")
    print(f"CRDs        {tools.crd_dir}")
    print(f"validators  {tools.node_modules}")
    print(f"kubernetes-validate {KUBERNETES_VALIDATE_VERSION}, checked against Kubernetes {KUBERNETES_VERSIONS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
