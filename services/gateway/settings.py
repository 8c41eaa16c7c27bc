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
    """The sender (and the follower sync command): Zalo API base, tokens, the app-wide rate limit."""

    model_config = SettingsConfigDict(env_prefix="EGRESS_", extra="ignore", frozen=True)

    service_name: str = "gateway-egress"
    key_concurrency: int = Field(
        default=16,
        ge=1,
        description="Commands to different citizens sent at once per partition (one citizen's stay in order):"
        " a send waits mostly on Zalo and MongoDB, and the rate limiter, not the loop, sets the pace.",
    )
    http_port: int = 8081
    max_batch: int = Field(
        default=20, description="Records per partition per poll: bounds the time between polls while rate-limited."
    )
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    app_secret: SecretStr = Field(default=SecretStr("dev-app-secret"), description="Zalo App Secret (OAuth).")
    bootstrap_refresh_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="OA key → refresh token from Zalo's API Explorer. Adopted once per distinct value (a hash is"
        " remembered in the token document), so restarts with the same value do not reuse a dead token and a new"
        " value (after re-consent) replaces a lost one.",
    )
    token_encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (urlsafe base64, 32 bytes) encrypting tokens at rest in MongoDB. Unset: clear text.",
    )
    rate_limit_per_window: int = Field(
        default=3600, ge=1, description="App-wide Zalo calls per window, all OAs and all replicas together."
    )
    rate_window_s: float = Field(default=60.0, gt=0)
    campaign_share: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Hard ceiling of the window campaigns may use; below it they get what replies and notices"
        " (their expected rest of the window included) leave.",
    )
    conversation_reserve: float = Field(
        default=0.03, ge=0, le=1, description="Share of every window kept free for replies at all times."
    )
    rate_boundary_guard_s: float = Field(
        default=0.25,
        ge=0,
        description="No slot is handed out this close to a window's end, so a call never lands in the next window.",
    )
    rate_batch_max: int = Field(
        default=20, ge=1, description="Most slots one replica reserves per MongoDB round trip (≤ 1% of the limit)."
    )
    refresh_before_expiry_s: float = 3600.0
    token_lease_s: float = Field(default=30.0, gt=0, description="How long one replica may hold an OA's refresh.")
    token_check_interval_s: float = Field(
        default=600.0, gt=0, description="How often idle OAs' tokens are checked (keeps refresh tokens alive)."
    )
    send_max_attempts: int = Field(default=6, ge=1)
    send_backoff_initial_s: float = 0.5
    send_backoff_max_s: float = 30.0
    command_deadline_s: float = Field(
        default=240.0, gt=0, description="Give up retrying one command after this long (below max.poll.interval)."
    )
    http_timeout_s: float = 10.0
    article_verify_attempts: int = Field(default=10, ge=1, description="Polls of /v2.0/article/verify (-214).")
    article_verify_interval_s: float = 3.0
    request_info_image_url: str = Field(
        default="https://stc-oa.zdn.vn/resource/default-oa-cover.png",
        description="Card image of request_user_info when the command gives none (Zalo requires one).",
    )
    resend_uncertain_sends: bool = Field(
        default=True,
        description="A send interrupted between the call and its record is sent again (at-least-once). Broadcasts"
        " never are (at-most-once): a duplicate reaches every follower.",
    )
    sends_retention_days: int = 14
