"""How every aiokafka client of a service reaches the brokers: bootstrap servers, TLS and SASL.

One function builds the options, so that the consumer loop, the producer and the services' own
clients (the news service's backlog probe, the reports case feed) can never disagree about them.
Secrets come from the environment only (`<PREFIX>KAFKA_SASL_PASSWORD`), never from files in the image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def client_options(
    bootstrap: str,
    protocol: SecurityProtocol = "PLAINTEXT",
    *,
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512",
    username: str = "",
    password: str = "",
    cafile: Path | None = None,
) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaConsumer / AIOKafkaProducer / AIOKafkaAdminClient."""
    options: dict[str, Any] = {"bootstrap_servers": bootstrap, "security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        # Verifies the brokers' certificates and host names; the system's CAs unless a bundle is given.
        options["ssl_context"] = create_ssl_context(cafile=str(cafile) if cafile else None)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        if not username or not password:
            raise ValueError(f"Kafka {protocol} needs a SASL username and password")
        options |= {"sasl_mechanism": sasl_mechanism, "sasl_plain_username": username, "sasl_plain_password": password}
    return options
