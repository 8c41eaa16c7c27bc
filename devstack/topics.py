"""Creates the topics of contracts/topics.toml (idempotently), optionally under a test prefix."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import load_topics


async def ensure_topics(bootstrap: str, prefix: str = "", max_partitions: int | None = None) -> list[str]:
    """Create every missing topic (and its .dlq); return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                prefix + spec.name,
                min(spec.partitions, max_partitions) if max_partitions else spec.partitions,
                1,
                topic_configs=spec.broker_config(),
            )
            for spec in load_topics()
            if prefix + spec.name not in existing
        ]
        if wanted:
            await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def delete_prefixed(bootstrap: str, prefix: str) -> None:
    """Delete every topic under a test prefix."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
