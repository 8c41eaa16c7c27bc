"""Where the local stack lives and which loopback ports it uses (each overridable by environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEVSTACK_DIR = Path(__file__).resolve().parent


# The local broker's SASL user: a development credential for loopback only, like FerretDB's lack of one.
LOCAL_KAFKA_USER = "zan-local"
LOCAL_KAFKA_PASSWORD = "zan-local-secret"  # noqa: S105 - a loopback development credential, never deployed


@dataclass(frozen=True)
class StackConfig:
    """Run folder and ports. Everything binds to 127.0.0.1."""

    run_dir: Path
    kafka_port: int
    kafka_controller_port: int
    ferretdb_port: int
    kafka_heap: str
    kafka_sasl_port: int = 0  # 0: kafka_port + 2

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        e = os.environ if env is None else env
        return cls(
            run_dir=Path(e.get("DEVSTACK_RUN_DIR", str(REPO_ROOT / ".run"))).resolve(),
            kafka_port=int(e.get("KAFKA_PORT", "9092")),
            kafka_controller_port=int(e.get("KAFKA_CONTROLLER_PORT", "9093")),
            ferretdb_port=int(e.get("FERRETDB_PORT", "27017")),
            kafka_heap=e.get("KAFKA_HEAP", "768m"),
            kafka_sasl_port=int(e.get("KAFKA_SASL_PORT", "0")),
        )

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def sasl_port(self) -> int:
        return self.kafka_sasl_port or self.kafka_port + 2

    @property
    def kafka_sasl_bootstrap(self) -> str:
        """A SASL_PLAINTEXT listener of the same broker (PLAIN and SCRAM-SHA-512, the local credentials below)."""
        return f"127.0.0.1:{self.sasl_port}"

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
