"""A faithful local simulator of the Zalo Official Account platform (OpenAPI, OAuth v4, webhooks)."""
