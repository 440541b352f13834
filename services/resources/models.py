"""Tables of the resources service; all live in the `resources` schema."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID

from kit.db import schema_metadata
from kit.idempotency import idempotency_table

SCHEMA = "resources"
metadata = schema_metadata(SCHEMA)

# Russian full-text document: title weighs most, then description, then provider; ё is folded to е
# on both sides (the Russian snowball stemmer treats them as different letters).
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('russian'::regconfig, translate(lower(title), 'ё', 'е')), 'A') || "
    "setweight(to_tsvector('russian'::regconfig, translate(lower(description), 'ё', 'е')), 'B') || "
    "setweight(to_tsvector('russian'::regconfig, translate(lower(coalesce(provider, '')), 'ё', 'е')), 'C')"
)

resources = Table(
    "resources",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=False),
    Column("external_id", String(64), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("event_format", String(32), nullable=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("provider", Text, nullable=True),
    Column("hours", Integer, nullable=True),
    Column("federal_registry", Boolean, nullable=False, server_default=text("false")),
    Column("competencies", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("subjects", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("levels", ARRAY(SmallInteger), nullable=False, server_default=text("'{}'")),
    Column("learning_type", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("municipalities", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("starts_on", Date, nullable=True),
    Column("ends_on", Date, nullable=True),
    Column("capacity", Integer, nullable=True),
    Column("reserved", Integer, nullable=False, server_default="0"),
    Column("url", Text, nullable=True),
    Column("owner_scope", String(16), nullable=False),
    Column("owner_municipality", String(32), nullable=True),
    Column("owner_teacher_id", UUID(as_uuid=True), nullable=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("search", TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), nullable=True),
    UniqueConstraint("region", "external_id"),
    # The last line of defence against overselling: a reservation can never push reserved past capacity.
    CheckConstraint("capacity IS NULL OR (capacity >= 0 AND reserved <= capacity)", name="capacity_not_exceeded"),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="dates_ordered"),
    Index("ix_resources_region_status_title", "region", "status", "title", "id"),
    Index("ix_resources_region_status_created", "region", "status", "created_at", "id"),
    Index("ix_resources_competencies", "competencies", postgresql_using="gin"),
    Index("ix_resources_subjects", "subjects", postgresql_using="gin"),
    Index("ix_resources_municipalities", "municipalities", postgresql_using="gin"),
    Index("ix_resources_search", "search", postgresql_using="gin"),
    Index("ix_resources_owner_teacher_id", "owner_teacher_id"),
)

# The regional methodological active (issue 15): one row per teacher of a region, the one list of "who is in
# the active". Candidates (from an ОМК campaign's results), members (included by an order) and those who left;
# the mentors that matching uses are members (mentors.member_id). Expert duties and training hang off members.
active_orders = Table(
    "active_orders",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=False),
    Column("number", String(64), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("region", "number", "issued_on"),
)

active_members = Table(
    "active_members",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=False),
    # The assessment service's teacher id; never a foreign key across schemas.
    Column("teacher_id", UUID(as_uuid=True), nullable=False),
    Column("municipality", String(32), nullable=False),
    Column("organisation", String(32), nullable=True),
    Column("subjects", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("status", String(16), nullable=False),
    Column("since", Date, nullable=False),
    Column("order_id", UUID(as_uuid=True), ForeignKey("active_orders.id"), nullable=True),
    # The basis: an ОМК result (campaign, level) or a role (basis_kind names which).
    Column("basis_kind", String(40), nullable=False),
    Column("basis_campaign", String(64), nullable=True),
    Column("basis_level", String(16), nullable=True),
    # A candidate's entry criteria as computed from the campaign: [{code, holds, text}] in Russian.
    Column("criteria", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("left_reason", Text, nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("region", "teacher_id"),
    CheckConstraint("status IN ('candidate', 'member', 'left')", name="status_known"),
    Index("ix_active_members_region_status_municipality", "region", "status", "municipality", "id"),
    Index("ix_active_members_subjects", "subjects", postgresql_using="gin"),
    Index("ix_active_members_order_id", "order_id"),
)

# Every change of a member's status: from, to, when, by which order or for which reason, who recorded it.
active_member_events = Table(
    "active_member_events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("member_id", UUID(as_uuid=True), ForeignKey("active_members.id", ondelete="CASCADE"), nullable=False),
    Column("status_from", String(16), nullable=True),
    Column("status_to", String(16), nullable=False),
    Column("happened_on", Date, nullable=False),
    Column("order_id", UUID(as_uuid=True), ForeignKey("active_orders.id"), nullable=True),
    Column("reason", Text, nullable=True),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_active_member_events_member_id", "member_id", "id"),
)

# Expert work of members (issue 15 point 6): a duty (data/active.json "expert_duties") in a subject for a period
# with a load; `schools` are the schools whose works the member checks (never their own).
active_expert_assignments = Table(
    "active_expert_assignments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=False),
    Column("member_id", UUID(as_uuid=True), ForeignKey("active_members.id", ondelete="CASCADE"), nullable=False),
    Column("duty", String(32), nullable=False),
    Column("subject", String(32), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("load", Integer, nullable=False),
    Column("schools", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("note", Text, nullable=True),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("ends_on >= starts_on", name="period_ordered"),
    CheckConstraint("load > 0", name="load_positive"),
    Index("ix_active_expert_assignments_member_id", "member_id", "id"),
    Index("ix_active_expert_assignments_region_starts", "region", "starts_on", "id"),
)

# Training of members and candidates (issue 15 point 7): an enrolment in a course of the resource map.
active_enrolments = Table(
    "active_enrolments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=False),
    Column("member_id", UUID(as_uuid=True), ForeignKey("active_members.id", ondelete="CASCADE"), nullable=False),
    Column("resource_id", UUID(as_uuid=True), ForeignKey("resources.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("enrolled_on", Date, nullable=False),
    Column("completed_on", Date, nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("member_id", "resource_id"),
    CheckConstraint("status IN ('enrolled', 'completed')", name="status_known"),
    CheckConstraint("(status = 'completed') = (completed_on IS NOT NULL)", name="completed_dated"),
    Index("ix_active_enrolments_resource_id", "resource_id"),
    Index("ix_active_enrolments_region_enrolled", "region", "enrolled_on", "id"),
)

mentors = Table(
    "mentors",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=False),
    # The assessment service's teacher id; never a foreign key across schemas.
    Column("teacher_id", UUID(as_uuid=True), nullable=False),
    # The member of the methodological active this mentor is (one list: a mentor is a role of a member).
    Column("member_id", UUID(as_uuid=True), ForeignKey("active_members.id"), nullable=False),
    Column("municipality", String(32), nullable=False),
    Column("role", String(16), nullable=False),
    Column("subjects", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("competencies", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("level", SmallInteger, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("load", Integer, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("joined_year", SmallInteger, nullable=True),
    Column("joined_assessment", String(64), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("region", "teacher_id"),
    CheckConstraint("load >= 0 AND load <= capacity", name="load_within_capacity"),
    CheckConstraint("level BETWEEN 1 AND 4", name="level_range"),
    Index("ix_mentors_region_municipality", "region", "municipality", "id"),
    Index("ix_mentors_subjects", "subjects", postgresql_using="gin"),
    Index("ix_mentors_competencies", "competencies", postgresql_using="gin"),
    Index("ix_mentors_member_id", "member_id", unique=True),
)

mentor_memberships = Table(
    "mentor_memberships",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("mentor_id", UUID(as_uuid=True), ForeignKey("mentors.id", ondelete="CASCADE"), nullable=False),
    Column("year", SmallInteger, nullable=False),
    Column("action", String(16), nullable=False),
    Column("assessment", String(64), nullable=True),
    Column("note", Text, nullable=True),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_mentor_memberships_mentor_id", "mentor_id", "id"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("region", String(32), nullable=False),
    Column("route_id", UUID(as_uuid=True), nullable=True),
    Column("teacher_id", UUID(as_uuid=True), nullable=False),
    Column("municipality", String(32), nullable=True),
    Column("organisation", String(32), nullable=True),
    Column("resource_id", UUID(as_uuid=True), ForeignKey("resources.id"), nullable=True),
    Column("mentor_id", UUID(as_uuid=True), ForeignKey("mentors.id"), nullable=True),
    Column("subject", String(32), nullable=True),
    Column("origin", String(16), nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("released_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("(resource_id IS NULL) <> (mentor_id IS NULL)", name="one_target"),
    # Idempotency by route + target: one active reservation of a seat or slot per route.
    Index(
        "uq_reservations_route_resource_active",
        "route_id",
        "resource_id",
        unique=True,
        postgresql_where=text("status = 'active' AND resource_id IS NOT NULL"),
    ),
    Index(
        "uq_reservations_route_mentor_active",
        "route_id",
        "mentor_id",
        unique=True,
        postgresql_where=text("status = 'active' AND mentor_id IS NOT NULL"),
    ),
    # A teacher holds at most one active slot of the same mentor (whether a route or the assignment made it).
    Index(
        "uq_reservations_teacher_mentor_active",
        "teacher_id",
        "mentor_id",
        unique=True,
        postgresql_where=text("status = 'active' AND mentor_id IS NOT NULL"),
    ),
    Index("ix_reservations_region_created", "region", "created_at", "id"),
    Index("ix_reservations_teacher_id", "teacher_id"),
    Index("ix_reservations_resource_id", "resource_id"),
    Index("ix_reservations_mentor_id", "mentor_id"),
)

# Which municipalities border each other (for in-person mentoring across a boundary).
# Stored once per unordered pair, smaller code first.
municipality_neighbours = Table(
    "municipality_neighbours",
    metadata,
    Column("region", String(32), primary_key=True),
    Column("municipality", String(32), primary_key=True),
    Column("neighbour", String(32), primary_key=True),
    CheckConstraint("municipality < neighbour", name="ordered_pair"),
)

idempotency_keys = idempotency_table(metadata)
