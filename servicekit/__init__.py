"""The shared service kit: consumer loop, producer, idempotency, settings, logs, metrics, health."""
