"""Settings of the news service (env prefix NEWS_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class NewsSettings(ServiceSettings):
    """Subscriber registry, campaigns editor API and the resumable fan-out."""

    model_config = SettingsConfigDict(env_prefix="NEWS_", extra="ignore", frozen=True)

    service_name: str = "news"
    http_port: int = 8084
    environment: Literal["dev", "production"] = Field(
        default="production",
        description="dev: HS256 tokens with the development secret are accepted. production: RS256 only.",
    )

    # --- editor API authentication (bearer JWT, same scheme and issuer as the reports service) ---
    jwt_issuer: str = "zan-officer-auth"
    jwt_audience: str = "zan-news"
    jwt_public_key_pem: str = Field(default="", description="PEM of the RS256 public key of the token issuer.")
    jwt_hs256_secret: SecretStr = Field(
        default=SecretStr("dev-only-news-jwt-secret-change-me-0123456789"),
        description="Shared secret of HS256 tokens; used only when environment == dev.",
    )
    jwt_leeway_s: float = 30.0

    # --- fan-out ---
    max_campaign_sends_per_s: float = Field(
        default=66.0,
        gt=0,
        description="Ceiling of the commands per second all campaigns of this replica produce (Zalo's whole"
        " limit is 4,000 calls/min per app, ~66/s). The real pace follows the egress backlog (below).",
    )
    egress_group: str = Field(
        default="gateway-egress-bulk", description="Consumer group of the egress on zalo.outbound.bulk.v1."
    )
    max_egress_backlog: int = Field(
        default=400,
        ge=0,
        description="Produce campaign commands only while the egress has fewer than this many left to consume"
        " (0: no backpressure). Keeps the queue short, so pause, cancel and unfollow act within seconds.",
    )
    send_slice_max: int = Field(default=200, ge=1, description="Most commands produced in one step.")
    plan_batch: int = Field(default=1000, ge=1, description="Delivery records written per insert.")
    free_window_h: float = Field(default=48.0, description="Free customer-service window after the last interaction.")
    billed_window_h: float = Field(default=168.0, description="Hard limit of the CS window (7 days, -230 after).")
    dm_max_attempts: int = Field(default=3, ge=1, description="Tries of a direct message with a retryable failure.")
    dm_retry_delay_s: float = 120.0
    outcome_timeout_s: float = Field(
        default=3600.0, description="After the last command, how long to wait for outcomes before finishing anyway."
    )
    article_city_codes: list[int] = Field(default=[4], description="Zalo broadcast `cities` (4 = Hồ Chí Minh City).")

    # --- scheduler and leases ---
    scheduler_interval_s: float = 1.0
    lease_ttl_s: float = Field(default=30.0, gt=1, description="A runner that stops renewing loses its campaign.")
    progress_interval_s: float = 15.0
    replica_id: str = Field(default="", description="Lease owner name; defaults to host:pid.")

    scan_timeout_s: float = Field(
        default=300.0,
        description="Deadline of one query that may scan a collection (planning, the delivery stream, counts);"
        " the kit's socket timeout is sized for point operations.",
    )

    # --- housekeeping ---
    suppression_retention_h: float = Field(
        default=24.0, description="Unfollow/opt-out markers kept at least this long (and while older campaigns run)."
    )
    schedule_tolerance_s: float = Field(default=60.0, description="How far in the past send_at may be.")

    @model_validator(mode="after")
    def _production_needs_rs256(self) -> NewsSettings:
        if self.environment != "dev" and not self.jwt_public_key_pem.strip():
            raise ValueError("production needs NEWS_JWT_PUBLIC_KEY_PEM (or NEWS_ENVIRONMENT=dev for local development)")
        return self
