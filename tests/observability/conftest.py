"""Fixtures of the observability checks: promtool and prometheus, installed by the project's script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALLER = REPO_ROOT / "deploy" / "observability" / "install-tools.sh"


@pytest.fixture(scope="session")
def prometheus_bin() -> Path:
    """The folder holding `promtool` and `prometheus` (installed on first use; a failure fails, never skips)."""
    done = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"{INSTALLER.relative_to(REPO_ROOT)} failed:\n{done.stdout}\n{done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def promtool(prometheus_bin: Path) -> Path:
    return prometheus_bin / "promtool"
