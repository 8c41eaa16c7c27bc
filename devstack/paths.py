"""Where the local stack lives and which loopback ports it uses (each overridable by environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEVSTACK_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class StackConfig:
    """Run folder and ports. Everything binds to 127.0.0.1."""

    run_dir: Path
    kafka_port: int
    kafka_controller_port: int
    ferretdb_port: int
    kafka_heap: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        e = os.environ if env is None else env
        return cls(
            run_dir=Path(e.get("DEVSTACK_RUN_DIR", str(REPO_ROOT / ".run"))).resolve(),
            kafka_port=int(e.get("KAFKA_PORT", "9092")),
            kafka_controller_port=int(e.get("KAFKA_CONTROLLER_PORT", "9093")),
            ferretdb_port=int(e.get("FERRETDB_PORT", "27017")),
            kafka_heap=e.get("KAFKA_HEAP", "768m"),
        )

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.ferretdb_port}/"

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    @property
    def pids(self) -> Path:
        return self.run_dir / "pids"

    @property
    def bin(self) -> Path:
        return self.run_dir / "bin"
