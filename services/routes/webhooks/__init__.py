"""Signed webhooks (Standard Webhooks): subscriptions of a territory, a transactional outbox of events,
deliveries at least once with retries, and the log of every attempt."""
