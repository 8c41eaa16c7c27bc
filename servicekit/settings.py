"""Settings base: every service subclasses it with its own env prefix (e.g. INTENT_)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.kafka_connection import SaslMechanism, SecurityProtocol, client_options
from servicekit.registry import DEFAULT_MERGERS, DEFAULT_REGISTRY


class ServiceSettings(BaseSettings):
    """What every service needs: where Kafka, MongoDB and the registry are, how to consume, how to serve."""

    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore", frozen=True)

    service_name: str = "service"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = "INFO"

    kafka_bootstrap: str = "127.0.0.1:9092"
    consumer_group: str = ""  # defaults to service_name
    topic_prefix: str = Field(default="", description="Tests isolate by naming: fresh topics per test.")
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle of the brokers' certificates (SSL, SASL_SSL); the system's CAs if unset."
    )
    max_attempts: int = Field(default=5, ge=1, description="Tries of a retryable failure before the DLQ.")
    retry_backoff_initial_s: float = 0.2
    retry_backoff_max_s: float = 10.0
    drain_timeout_s: float = 20.0
    max_batch: int = 100
    commit_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="Offsets of handled records are committed together at most this often (and on revoke and"
        " drain); 0 commits after every batch. A crash redelivers up to this much, absorbed by idempotency.",
    )
    key_concurrency: int = Field(
        default=1,
        ge=1,
        description="Records of different keys handled at once within a partition (the order per key is kept;"
        " 1: strictly in partition order). For handlers whose state is per key.",
    )

    mongo_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    mongo_db: str = ""  # defaults to service_name
    mongo_timeout_s: float = 3.0
    idempotency_retention_days: int = 14

    registry_path: Path = DEFAULT_REGISTRY
    ward_mergers_path: Path = DEFAULT_MERGERS
    pii_salt: SecretStr = Field(
        default=SecretStr("dev-only-salt"), description="Salt of the PII hashes in logs; set per environment."
    )

    @model_validator(mode="after")
    def _kafka_credentials_given(self) -> ServiceSettings:
        self.kafka()  # refuses SASL without credentials at start-up, not at the first connection
        return self

    def kafka(self) -> dict[str, Any]:
        """Connection options (bootstrap, TLS, SASL) for every aiokafka client of the service."""
        return client_options(
            self.kafka_bootstrap,
            self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password.get_secret_value(),
            cafile=self.kafka_ssl_cafile,
        )

    @property
    def group(self) -> str:
        return self.consumer_group or self.service_name

    @property
    def database(self) -> str:
        return self.mongo_db or self.service_name.replace("-", "_")

    def topic(self, name: str) -> str:
        """The physical topic name (a prefix only in tests)."""
        return self.topic_prefix + name
