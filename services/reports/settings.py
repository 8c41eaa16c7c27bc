"""Settings of the reports service (env prefix REPORTS_).

Secrets are `SecretStr`. In `production` (the default) the service refuses to start without its own
keys and accepts only RS256 officer tokens; `dev` fills in fixed development keys and also accepts
HS256 tokens minted by `python -m services.reports.devtoken`.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.registry import REPO_ROOT
from servicekit.settings import ServiceSettings

DEFAULT_ROUTING_RULES = REPO_ROOT / "config" / "routing-rules.json"


def _dev_key(label: str) -> SecretStr:
    """A fixed 32-byte development key (base64). Never valid in production: the validator refuses it."""
    return SecretStr(base64.b64encode(hashlib.sha256(b"zalo-an-ninh-dev:" + label.encode()).digest()).decode())


DEV_REPORTER_KEY = _dev_key("reporter")
DEV_CITIZEN_INDEX_KEY = _dev_key("citizen-index")
DEV_JWT_SECRET = _dev_key("jwt")


class ReportsSettings(ServiceSettings):
    """Case intake, routing, officer API and citizen notices."""

    model_config = SettingsConfigDict(env_prefix="REPORTS_", extra="ignore", frozen=True)

    service_name: str = "reports"
    http_port: int = 8083
    environment: Literal["dev", "production"] = Field(
        default="production", description="dev: development keys and HS256 tokens are allowed."
    )
    routing_rules_path: Path = DEFAULT_ROUTING_RULES

    # Officer tokens ------------------------------------------------------------------------------
    jwt_issuer: str = "zan-officer-auth"
    jwt_audience: str = "zan-reports"
    jwt_public_key_pem: str = Field(default="", description="RS256 public key (PEM) of the officer token issuer.")
    jwt_hs256_secret: SecretStr | None = Field(default=None, description="dev only: HS256 secret for devtoken.")
    jwt_leeway_s: float = 30.0

    # Reporter identity at rest -----------------------------------------------------------------------
    reporter_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    reporter_key: SecretStr | None = Field(default=None, description="AES-256-GCM key, base64 (32 bytes).")
    reporter_old_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Key id → retired key (base64), still used to decrypt."
    )
    citizen_index_key: SecretStr | None = Field(
        default=None, description="HMAC key (base64) of the citizen blind index and officer-facing pseudonyms."
    )

    # Attachments ---------------------------------------------------------------------------------------
    media_allowed_hosts: list[str] = Field(
        default_factory=lambda: ["zdn.vn", "zadn.vn"],
        description="Hosts (and their subdomains) attachments may be downloaded from; guards against SSRF.",
    )
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_chunk_bytes: int = 255 * 1024
    attachment_timeout_s: float = 20.0
    attachment_max_attempts: int = 8
    attachment_backoff_initial_s: float = 5.0
    attachment_backoff_max_s: float = 1800.0
    attachment_poll_s: float = 2.0

    # Citizen notices -------------------------------------------------------------------------------------
    interaction_window_s: float = Field(default=7 * 86400, description="Zalo's CS window (-230 after it).")
    window_margin_s: float = Field(default=3600, description="Treat the window as closed this long before.")
    notice_resend_after_s: float = Field(
        default=600, description="A notice sent without any outcome for this long is published again (same id)."
    )
    notice_retry_backoff_s: float = 60.0
    notice_max_retries: int = 5

    # Background work -----------------------------------------------------------------------------------
    sweep_interval_s: float = 5.0
    outbox_grace_s: float = 10.0
    outbox_abandon_s: float = 120.0
    metrics_refresh_s: float = 15.0
    urgent_ack_threshold_s: float = Field(
        default=600, description="Urgent cases still 'received' after this long count as unacknowledged."
    )

    # Officer API ------------------------------------------------------------------------------------------
    trust_forwarded_for: bool = Field(default=False, description="Take the client IP from X-Forwarded-For.")
    list_default_limit: int = 50
    list_max_limit: int = 200
    index_load_timeout_s: float = 30.0

    @model_validator(mode="after")
    def _keys_for_environment(self) -> ReportsSettings:
        if self.environment == "production":
            missing = [
                name
                for name, value in (
                    ("REPORTS_REPORTER_KEY", self.reporter_key),
                    ("REPORTS_CITIZEN_INDEX_KEY", self.citizen_index_key),
                    ("REPORTS_JWT_PUBLIC_KEY_PEM", self.jwt_public_key_pem or None),
                )
                if value is None
            ]
            if missing:
                raise ValueError(
                    f"production needs {', '.join(missing)} (or REPORTS_ENVIRONMENT=dev for local development)"
                )
            dev_values = {DEV_REPORTER_KEY.get_secret_value(), DEV_CITIZEN_INDEX_KEY.get_secret_value()}
            own = {self.reporter_key.get_secret_value(), self.citizen_index_key.get_secret_value()}  # type: ignore[union-attr]
            if dev_values & own:
                raise ValueError("production must not use the development keys")
        return self

    # Effective secrets (dev fills in the fixed development values) ----------------------------------
    @property
    def effective_reporter_key(self) -> SecretStr:
        return self.reporter_key or DEV_REPORTER_KEY

    @property
    def effective_citizen_index_key(self) -> SecretStr:
        return self.citizen_index_key or DEV_CITIZEN_INDEX_KEY

    @property
    def effective_hs256_secret(self) -> SecretStr | None:
        if self.environment != "dev":
            return None
        return self.jwt_hs256_secret or DEV_JWT_SECRET
