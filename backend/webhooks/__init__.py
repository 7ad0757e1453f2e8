"""Outgoing webhooks: endpoints and their secrets, an outbox of public events written in the change's
transaction, and a delivery worker that signs them per Standard Webhooks and retries on a schedule."""
