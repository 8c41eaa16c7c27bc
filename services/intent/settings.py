"""Intent service settings (env prefix INTENT_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings

KNOWLEDGE_DIR = Path(__file__).resolve().parent / "knowledge"


class IntentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTENT_", extra="ignore", frozen=True)

    service_name: str = "intent"
    http_port: int = 8082
    key_concurrency: int = Field(
        default=8,
        ge=1,
        description="Citizens whose messages are handled at once per partition (one citizen's stay in order;"
        " conversation state is per citizen).",
    )
    knowledge_dir: Path = KNOWLEDGE_DIR
    form_expiry_s: float = Field(default=1800, description="An idle report form is abandoned after this.")
    handoff_timeout_s: float = Field(default=7200, description="The bot speaks again after this without an officer.")
    min_confidence: float = Field(default=0.45, ge=0, le=1, description="Below this, ask which topic was meant.")
    reply_resends: int = Field(
        default=10,
        ge=0,
        description="A reply the egress gave up on for a retryable reason (Zalo down, rate limits) is sent again as"
        " a new command, at most this many times; each try spends the egress's command deadline (~4 min).",
    )
