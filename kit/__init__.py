"""Shared, domain-free building blocks for the services and the gateway."""
