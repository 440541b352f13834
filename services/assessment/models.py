"""Tables of the assessment service; all live in the `assessment` schema."""

from sqlalchemy import (
    BigInteger,
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

SCHEMA = "assessment"
metadata = schema_metadata(SCHEMA)

municipalities = Table(
    "municipalities",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

organisations = Table(
    "organisations",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("municipality_code", String(32), ForeignKey("municipalities.code"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

teachers = Table(
    "teachers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("external_id", String(64), nullable=False, unique=True),
    Column("full_name", Text, nullable=False),
    Column("search_name", Text, nullable=False),
    Column("region", String(32), nullable=False),
    Column("municipality_code", String(32), ForeignKey("municipalities.code"), nullable=False),
    Column("organisation_code", String(32), ForeignKey("organisations.code"), nullable=False),
    Column("position", Text, nullable=False),
    Column("subjects", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("qualification_category", String(16), nullable=False, server_default="none"),
    Column("experience_years", SmallInteger, nullable=False, server_default="0"),
    # Optional: only the year, for the KPI "young teachers (under 35) with a mentor" (personal data).
    Column("birth_year", SmallInteger, nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set when the teacher was depersonalised (152-FZ): the name and the portal's id are gone for good.
    Column("depersonalised_at", DateTime(timezone=True), nullable=True),
    Index("ix_teachers_municipality_name", "municipality_code", "search_name", "id"),
    Index("ix_teachers_organisation_name", "organisation_code", "search_name", "id"),
    Index("ix_teachers_search_name_id", "search_name", "id"),
    Index("ix_teachers_subjects", "subjects", postgresql_using="gin"),
    # Name search (`q`): trigrams of the folded name (pg_trgm lives in the `extensions` schema).
    Index(
        "ix_teachers_search_trgm",
        "search_name",
        postgresql_using="gin",
        postgresql_ops={"search_name": "extensions.gin_trgm_ops"},
    ),
)

idempotency_keys = idempotency_table(metadata)

# Who handled whose personal data, and when: ids and roles only, never a personal value (152-FZ).
personal_data_log = Table(
    "personal_data_log",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", String(200), nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("teacher_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("region", String(32), nullable=False),
)

# --- assessment intake: frameworks, campaigns, results, change feed -------------------------------

frameworks = Table(
    "frameworks",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    # NULL when loaded by a caller without a region (the framework is then visible to every region).
    Column("region", String(32), nullable=True),
    Column("code", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("document", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("region", "code", "version", postgresql_nulls_not_distinct=True),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=True),
    Column("name", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("assessed_on", Date, nullable=False),
    Column("framework_id", UUID(as_uuid=True), ForeignKey("frameworks.id"), nullable=False, index=True),
    Column("instrument", String(64), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_campaigns_region_assessed_on", "region", "assessed_on", "id"),
)

results = Table(
    "results",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("campaign_id", UUID(as_uuid=True), ForeignKey("campaigns.id"), nullable=False),
    Column("teacher_id", UUID(as_uuid=True), ForeignKey("teachers.id"), nullable=False, index=True),
    Column("framework_id", UUID(as_uuid=True), ForeignKey("frameworks.id"), nullable=False),
    Column("batch_id", UUID(as_uuid=True), nullable=True),
    # Points in the order of the instrument's items / competencies in the result's framework version.
    Column("item_points", ARRAY(Numeric(8, 2)), nullable=True),
    Column("competency_points", ARRAY(Numeric(8, 2)), nullable=False, server_default=text("'{}'")),
    Column("total_points", Numeric(8, 2), nullable=False),
    Column("max_points", Numeric(8, 2), nullable=False),
    Column("percent", Numeric(5, 2), nullable=False),
    Column("level", String(16), nullable=False),
    Column("grp", SmallInteger, nullable=False),
    Column("level_source", String(16), nullable=False, server_default="computed"),
    Column("deficit_codes", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("growth_codes", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("strength_codes", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("campaign_id", "teacher_id"),
)

# The change feed: one row per stored or changed result, written in the result's transaction.
# `txid` (the writer's transaction id) orders the feed together with `seq`; readers only see rows
# of transactions older than every running one, so a late commit can never be skipped.
result_changes = Table(
    "result_changes",
    metadata,
    Column("seq", BigInteger, Identity(always=False), primary_key=True),
    Column("txid", BigInteger, nullable=False, server_default=text("(pg_current_xact_id()::text)::bigint")),
    Column("result_id", UUID(as_uuid=True), ForeignKey("results.id"), nullable=False, index=True),
    Column("teacher_id", UUID(as_uuid=True), nullable=False),
    Column("campaign_id", UUID(as_uuid=True), nullable=False),
    Column("result_version", Integer, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_result_changes_txid_seq", "txid", "seq"),
)

intake_batches = Table(
    "intake_batches",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("campaign_id", UUID(as_uuid=True), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("principal", String(200), nullable=False),
    Column("format", String(8), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("body_sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("rows_total", Integer, nullable=False),
    Column("inserted", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
