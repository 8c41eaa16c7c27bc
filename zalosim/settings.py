"""Simulator settings: one pydantic-settings class, env prefix ``ZALOSIM_``."""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REGISTRY_RELATIVE_PATH = Path("config") / "oa-registry.json"


class SimSettings(BaseSettings):
    """Everything the simulator can be configured with (env ``ZALOSIM_<FIELD>``)."""

    model_config = SettingsConfigDict(env_prefix="ZALOSIM_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to bind.")
    port: int = Field(8900, description="Port to bind.")
    public_url: str | None = Field(
        None,
        description="Base URL used in hosted media links; default: the origin of the request that made them.",
    )
    registry_path: Path | None = Field(
        None, description="OA registry JSON; default config/oa-registry.json at the repository root."
    )
    webhook_url: str = Field(
        "http://127.0.0.1:8080/zalo/webhook", description="Where webhook events are POSTed (the gateway)."
    )
    app_secret: SecretStr = Field(
        SecretStr("dev-app-secret"), description="App Secret: the `secret_key` header of /v4/oa/access_token."
    )
    oa_secret_key: SecretStr = Field(
        SecretStr("dev-oa-secret-key"), description="Webhook 'OA Secret Key' used to sign events (per app)."
    )
    oa_secret_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Optional per-OA override of the webhook secret, keyed by OA key (JSON in the env var).",
    )
    token_ttl_seconds: int = Field(90000, gt=0, description="Access token lifetime (Zalo: 25 h).")
    rate_limit: int = Field(4000, gt=0, description="App-wide OpenAPI requests per window.")
    rate_window_seconds: float = Field(60.0, gt=0, description="Rate limit window length.")
    retry_time_scale: float = Field(
        1.0, gt=0, description="Factor applied to the webhook retry ladder (30 s … 1 h); tests use tiny values."
    )
    webhook_timeout_seconds: float = Field(
        2.0, gt=0, description="A delivery slower than this counts as failed (Zalo: 2 s)."
    )
    article_verify_polls: int = Field(
        2, ge=0, description="How many /v2.0/article/verify polls answer -214 before the id is returned."
    )
    max_records: int = Field(
        200_000, gt=0, description="How many records each journal (calls, messages, deliveries…) keeps."
    )
    seed: int | None = Field(None, description="Seed for generated ids and tokens (None: random).")

    def resolved_registry_path(self) -> Path:
        """The registry file: explicit setting, else the first config/oa-registry.json above this package."""
        if self.registry_path is not None:
            return self.registry_path
        for base in (Path(__file__).resolve().parent, Path.cwd()):
            for folder in (base, *base.parents):
                candidate = folder / REGISTRY_RELATIVE_PATH
                if candidate.is_file():
                    return candidate
        raise FileNotFoundError(f"{REGISTRY_RELATIVE_PATH} not found; set ZALOSIM_REGISTRY_PATH")

    def webhook_secret_for(self, oa_key: str) -> str:
        """The secret that signs webhook events of this OA."""
        override = self.oa_secret_keys.get(oa_key)
        return (override or self.oa_secret_key).get_secret_value()
