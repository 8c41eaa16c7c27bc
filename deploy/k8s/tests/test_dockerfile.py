"""The image recipe (CI has no Docker engine to build it): pinned base, non-root, no secrets."""

from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[3] / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_base_images_are_pinned_python_311_slim() -> None:
    froms = [arg.split()[0] for op, arg in _instructions() if op == "FROM"]
    assert froms
    for image in froms:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), f"FROM {image}"
        assert "latest" not in image


def test_runs_as_a_non_root_uid() -> None:
    users = [arg for op, arg in _instructions() if op == "USER"]
    assert users, "no USER: the image would run as root"
    uid = users[-1].split(":")[0]
    assert uid == "10001", f"final USER {users[-1]}: expected the numeric uid 10001 (runAsNonRoot checks numbers)"


def test_installs_the_project_and_holds_no_secrets() -> None:
    ops = _instructions()
    assert any(op == "RUN" and "pip" in arg and ("install" in arg or "wheel" in arg) for op, arg in ops)
    for op, arg in ops:
        assert op != "ADD", "ADD fetches or unpacks implicitly: use COPY"
        if op in ("ENV", "ARG"):
            assert not re.search(r"SECRET|TOKEN|PASSWORD|KEY", arg, re.IGNORECASE), f"{op} {arg}"
