"""Tables of the assessment service; all live in the `assessment` schema."""

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

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
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_teachers_municipality_name", "municipality_code", "search_name", "id"),
    Index("ix_teachers_organisation_name", "organisation_code", "search_name", "id"),
    Index("ix_teachers_search_name_id", "search_name", "id"),
    Index("ix_teachers_subjects", "subjects", postgresql_using="gin"),
)

idempotency_keys = idempotency_table(metadata)
