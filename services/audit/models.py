"""Tables of the audit service; all live in the `audit` schema."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
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

SCHEMA = "audit"
metadata = schema_metadata(SCHEMA)

# One audit per finished route. The route's scope and self-check are copied at the start, so the
# audit can be read, scored and counted without the routes service.
audits = Table(
    "audits",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("route_id", UUID(as_uuid=True), nullable=False),
    Column("route_version", Integer, nullable=False),
    Column("teacher_id", UUID(as_uuid=True), nullable=False),
    Column("region", String(32), nullable=False),
    Column("municipality", String(32), nullable=False),
    Column("organisation", String(32), nullable=False),
    Column("subject", String(32)),
    Column("group", SmallInteger, nullable=False),
    Column("procedure", String(16), nullable=False),
    Column("sampled", Boolean),  # for sampled groups: whether the route fell in the sample; else NULL
    Column("self_check_scores", ARRAY(SmallInteger), nullable=False),
    Column("self_check_meta", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("self_check_total", SmallInteger),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("final_scores", ARRAY(SmallInteger)),
    Column("total", SmallInteger),
    Column("disagreements", ARRAY(SmallInteger), nullable=False, server_default=text("'{}'")),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_by", String(200)),
    Column("completed_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, server_default="1"),
    CheckConstraint('"group" BETWEEN 1 AND 4', name="group_range"),
    CheckConstraint("status IN ('open', 'completed')", name="status_known"),
    CheckConstraint("total IS NULL OR total BETWEEN 0 AND 20", name="total_range"),
    UniqueConstraint("route_id", name="uq_audits_route_id"),
    Index("ix_audits_scope", "region", "municipality", "organisation", "created_at", "id"),
    Index("ix_audits_completed", "region", "municipality", "completed_at"),
)

audit_reviews = Table(
    "audit_reviews",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("audit_id", UUID(as_uuid=True), ForeignKey("audits.id", ondelete="CASCADE"), nullable=False),
    Column("auditor", String(200), nullable=False),
    Column("auditor_name", Text),
    Column("scores", ARRAY(SmallInteger), nullable=False),
    Column("comments", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("second_check", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("audit_id", "auditor", name="uq_audit_reviews_audit_id_auditor"),
    Index("ix_audit_reviews_auditor", "auditor"),
)

# Transactional outbox: written with the completed audit, delivered to the routes service later.
route_outbox = Table(
    "route_outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("audit_id", UUID(as_uuid=True), ForeignKey("audits.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("route_id", UUID(as_uuid=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("locked_until", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_known"),
    Index("ix_route_outbox_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
)

monitoring_campaigns = Table(
    "monitoring_campaigns",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=False),
    Column("code", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("held_on", Date, nullable=False),
    Column("previous_id", UUID(as_uuid=True), ForeignKey("monitoring_campaigns.id", ondelete="SET NULL")),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("region", "code", name="uq_monitoring_campaigns_region_code"),
    Index("ix_monitoring_campaigns_region_held_on", "region", "held_on"),
)

_step_points = [
    Column(name, Numeric(5, 2), nullable=False)
    for name in (
        "goals",
        "indicators",
        "methods",
        "monitoring",
        "analysis",
        "recommendations",
        "measures",
        "decisions",
        "effectiveness",
    )
]

monitoring_scores = Table(
    "monitoring_scores",
    metadata,
    Column(
        "campaign_id", UUID(as_uuid=True), ForeignKey("monitoring_campaigns.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("municipality", String(32), primary_key=True),
    Column("municipality_name", Text),
    *_step_points,
    Column("uploaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

checklists = Table(
    "checklists",
    metadata,
    Column("region", String(32), primary_key=True),
    Column("municipality", String(32), primary_key=True),
    Column("documents", JSONB, nullable=False),
    Column("directions", JSONB, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Integer, nullable=False, server_default="1"),
)

idempotency_keys = idempotency_table(metadata)
