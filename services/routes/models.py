"""Tables of the routes service; all live in the `routes` schema."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from kit.db import schema_metadata
from kit.idempotency import idempotency_table

SCHEMA = "routes"
metadata = schema_metadata(SCHEMA)

routes = Table(
    "routes",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("teacher_id", UUID(as_uuid=True), nullable=False),
    Column("external_id", String(64), nullable=False, server_default=""),
    Column("teacher_name", Text, nullable=False, server_default=""),
    Column("region", String(32), nullable=False),
    Column("municipality", String(32), nullable=False),
    Column("organisation", String(32), nullable=False),
    Column("subject", String(32)),
    Column("grp", SmallInteger, nullable=False),
    # One route per teacher and half-year (e.g. 2026-H2): regenerations update, never duplicate.
    Column("period_key", String(8), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("status", String(32), nullable=False, server_default="draft"),
    # Workflow version: ETag / If-Match on every change.
    Column("version", Integer, nullable=False, server_default="1"),
    Column("content_version", Integer, nullable=False, server_default="1"),
    Column("content", JSONB, nullable=False),
    # Manual changes of generated content, each with its reason; re-applied on regeneration.
    Column("overrides", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("self_check_manual", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # The self-check as it stood at completion: frozen, shown from then on and read by the audit.
    Column("self_check_at_completion", JSONB),
    Column("sources", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("mentor_id", String(64)),
    Column("tutor", JSONB),
    Column("next_control_on", Date),
    Column("audit_id", UUID(as_uuid=True)),
    Column("audit_total", SmallInteger),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True)),
    Column("audited_at", DateTime(timezone=True)),
    UniqueConstraint("teacher_id", "period_key"),
    Index("ix_routes_municipality_status", "municipality", "status", "grp", "id"),
    Index("ix_routes_organisation_status", "organisation", "status", "id"),
    Index("ix_routes_region_created", "region", "created_at"),
)

# Immutable history of every transition and change (a trigger refuses UPDATE and DELETE).
route_events = Table(
    "route_events",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("route_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", String(200), nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("action", String(40), nullable=False),
    Column("from_status", String(32)),
    Column("to_status", String(32)),
    Column("comment", Text),
    Column("content_version", Integer),
)

# Every content version, so corrections while a route runs can be compared and restored.
route_versions = Table(
    "route_versions",
    metadata,
    Column("route_id", UUID(as_uuid=True), primary_key=True),
    Column("content_version", Integer, primary_key=True),
    Column("content", JSONB, nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Where this service stands in the assessment change feed.
feed_state = Table(
    "feed_state",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("cursor", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The feed split into `partitions` parts (ROUTES_FEED_PARTITIONS > 1): each part's cursor and the replica
# leasing it until `lease_until` (services.routes.partitioned_feed).
feed_partitions = Table(
    "feed_partitions",
    metadata,
    Column("partitions", Integer, primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("cursor", Text),
    Column("lease_owner", String(200)),
    Column("lease_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

exports = Table(
    "exports",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("month", String(7), nullable=False),
    Column("region", String(32), nullable=False),
    Column("municipality", String(32), nullable=False),
    Column("format", String(8), nullable=False),
    Column("filename", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("month", "region", "municipality", "format"),
)

idempotency_keys = idempotency_table(metadata)

# Signed webhooks (services.routes.webhooks): subscriptions of a territory (region, municipality or
# school; None = wider), the transactional outbox of events, one delivery per event and subscription,
# and every attempt of a delivery.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32)),
    Column("municipality", String(32)),
    Column("organisation", String(32)),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(String(40)), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    # Standard Webhooks secret (whsec_<base64>): shown once at creation, kept to sign deliveries.
    Column("secret", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    # Failed attempts in a row (a success resets it); the subscription is disabled at the configured run.
    Column("failure_run", Integer, nullable=False, server_default="0"),
    Column("disabled_at", DateTime(timezone=True)),
    Index("ix_webhook_subscriptions_territory", "region", "municipality", "organisation"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("type", String(40), nullable=False),
    Column("region", String(32)),
    Column("municipality", String(32)),
    Column("organisation", String(32)),
    Column("payload", JSONB, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set when the event was fanned out to the subscriptions of its territory.
    Column("dispatched_at", DateTime(timezone=True)),
    Index("ix_webhook_events_pending", "occurred_at", postgresql_where=text("dispatched_at IS NULL")),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "subscription_id",
        UUID(as_uuid=True),
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(40), nullable=False),
    # The message as sent: {"type", "timestamp", "data"}.
    Column("body", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # pending -> delivered | failed (attempts exhausted)
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True)),
    UniqueConstraint("subscription_id", "event_id"),
    Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "delivery_id",
        BigInteger,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status_code", Integer),
    # delivered, http-error, timeout, refused-address, connection-error
    Column("outcome", String(24), nullable=False),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
)
