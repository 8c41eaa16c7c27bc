"""devstack: the local stack without Docker (Kafka from Maven Central, FerretDB from the Go proxy)."""
