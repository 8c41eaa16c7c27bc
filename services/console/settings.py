"""Settings of the officer console (env prefix CONSOLE_).

The console holds no secret in production: officers sign in through the cluster's identity provider
(oauth2-proxy in front of the console passes their token on every request). The development sign-in
mints HS256 tokens with the APIs' development secrets; it is off unless CONSOLE_DEV_LOGIN=true, and the
`prod` overlay never turns it on (deploy/k8s/tests/test_policies.py checks that).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    """Officer console: static pages, a reverse proxy to the reports and news APIs, dev sign-in."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", frozen=True)

    service_name: str = "console"
    http_port: int = 8085

    # Upstream APIs (base URLs; the proxy adds /api/v1/...) ---------------------------------------------
    reports_url: str = Field(default="http://127.0.0.1:8083", pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    news_url: str = Field(default="http://127.0.0.1:8084", pattern=r"^https?://[^/?#]+(/[^?#]*)?$")
    upstream_timeout_s: float = Field(default=20.0, gt=0, description="Whole upstream call, body included.")
    upstream_connect_timeout_s: float = Field(default=3.0, gt=0)

    # What the pages do --------------------------------------------------------------------------------------
    poll_interval_s: float = Field(default=5.0, ge=1, description="How often the case queue asks for new cases.")
    progress_poll_s: float = Field(default=2.0, ge=0.5, description="How often a running campaign's progress is read.")
    sign_in_url: str = Field(default="/oauth2/start?rd=%2F", description="Where to sign in (oauth2-proxy).")
    sign_out_url: str = Field(default="/oauth2/sign_out?rd=%2F", description="Where to sign out (oauth2-proxy).")

    # Development sign-in (never in production) -------------------------------------------------------------
    dev_login: bool = Field(default=False, description="CHỈ DÙNG CHO PHÁT TRIỂN: pick a user, role and unit.")
    dev_token_ttl_s: int = Field(default=8 * 3600, ge=60, le=24 * 3600)
    dev_reports_jwt_secret: SecretStr | None = Field(default=None, description="dev: REPORTS' HS256 secret.")
    dev_reports_jwt_issuer: str = ""
    dev_reports_jwt_audience: str = ""
    dev_news_jwt_secret: SecretStr | None = Field(default=None, description="dev: NEWS' HS256 secret.")
    dev_news_jwt_issuer: str = ""
    dev_news_jwt_audience: str = ""

    @field_validator("reports_url", "news_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _dev_login_is_complete(self) -> ConsoleSettings:
        if self.dev_login:
            missing = [
                f"CONSOLE_{name.upper()}"
                for name in (
                    "dev_reports_jwt_secret",
                    "dev_reports_jwt_issuer",
                    "dev_reports_jwt_audience",
                    "dev_news_jwt_secret",
                    "dev_news_jwt_issuer",
                    "dev_news_jwt_audience",
                )
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"CONSOLE_DEV_LOGIN=true needs {', '.join(missing)} (devstack sets them)")
        return self
