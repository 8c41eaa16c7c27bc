"""Settings come from ZALOSIM_* variables; the registry is found from anywhere in the repository."""

from pathlib import Path

import pytest

from zalosim.registry import load_registry
from zalosim.settings import SimSettings

pytestmark = pytest.mark.unit


def test_env_overrides_including_per_oa_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZALOSIM_PORT", "9123")
    monkeypatch.setenv("ZALOSIM_OA_SECRET_KEYS", '{"csgt": "csgt-secret"}')
    monkeypatch.setenv("ZALOSIM_RETRY_TIME_SCALE", "0.01")
    settings = SimSettings()
    assert settings.port == 9123
    assert settings.retry_time_scale == 0.01
    assert settings.webhook_secret_for("csgt") == "csgt-secret"
    assert settings.webhook_secret_for("tanphu") == "dev-oa-secret-key"


def test_registry_is_found_without_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # not the repository root
    registry = load_registry(SimSettings().resolved_registry_path())
    assert len(registry.oas) == 18
    assert registry.by_key("tanphu") is not None
