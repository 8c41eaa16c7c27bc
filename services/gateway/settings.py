"""Settings of the gateway's two entry points (env prefixes INGRESS_ and EGRESS_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class IngressSettings(ServiceSettings):
    """The webhook endpoint: verification, durability, spool."""

    model_config = SettingsConfigDict(env_prefix="INGRESS_", extra="ignore", frozen=True)

    service_name: str = "gateway-ingress"
    http_port: int = 8080
    webhook_path: str = "/zalo/webhook"
    oa_secret_key: SecretStr = Field(
        default=SecretStr("dev-oa-secret-key"),
        description="The app's webhook 'OA Secret Key' (not the App Secret). Per-OA overrides below.",
    )
    oa_secret_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="OA key → its own webhook secret, where Zalo gives one per OA."
    )
    max_body_bytes: int = 128 * 1024
    max_event_age_s: float = Field(
        default=3 * 3600,
        description="Oldest event timestamp accepted. Zalo retries 30 s, 5, 15, 30 min, 1 h after each failure:"
        " the last retry arrives ~1 h 51 min after the event, so the default keeps a margin over that.",
    )
    max_clock_skew_s: float = 300.0
    publish_timeout_s: float = Field(default=1.0, description="Kafka ack wait before spooling (Zalo allows 2 s).")
    dedupe_window_s: float = 3 * 3600
    dedupe_max_entries: int = 200_000
    spool_dir: Path = Path(".run/spool/gateway-ingress")
    spool_drain_interval_s: float = 0.5


class EgressSettings(ServiceSettings):
    """The sender: Zalo API base, tokens, the app-wide rate limit."""

    model_config = SettingsConfigDict(env_prefix="EGRESS_", extra="ignore", frozen=True)

    service_name: str = "gateway-egress"
    http_port: int = 8081
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    app_secret: SecretStr = Field(default=SecretStr("dev-app-secret"), description="Zalo App Secret (OAuth).")
    bootstrap_refresh_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="OA key → refresh token from Zalo's API Explorer; used once, when the store has no token yet.",
    )
    rate_limit_per_window: int = Field(default=3600, description="App-wide Zalo calls per window, all replicas.")
    rate_window_s: float = 60.0
    campaign_share: float = Field(default=0.8, ge=0, le=1, description="Most of the window campaigns may use.")
    refresh_before_expiry_s: float = 3600.0
    send_max_attempts: int = 6
    http_timeout_s: float = 10.0
