"""the regional methodological active: members, their status history and orders; mentors are members

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 05:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Every existing mentor becomes a member of the active (a mentor by role; an inactive mentor has left it),
# with one history event, and is linked to that member.
LINK_EXISTING_MENTORS = """
WITH made AS (
    INSERT INTO resources.active_members (region, teacher_id, municipality, subjects, status, since, basis_kind,
                                          basis_campaign, created_at, updated_at)
    SELECT m.region, m.teacher_id, m.municipality, m.subjects,
           CASE WHEN m.status = 'active' THEN 'member' ELSE 'left' END,
           COALESCE(make_date(m.joined_year, 1, 1), m.created_at::date), 'tutor_or_mentor',
           m.joined_assessment, m.created_at, now()
    FROM resources.mentors m
    RETURNING id, status, since
)
INSERT INTO resources.active_member_events (member_id, status_from, status_to, happened_on, reason, recorded_by)
SELECT id, NULL, status, since, 'Перенесён из списка наставников', 'migration:0002' FROM made
"""


def upgrade() -> None:
    op.create_table(
        "active_orders",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_orders")),
        sa.UniqueConstraint("region", "number", "issued_on", name=op.f("uq_active_orders_region_number_issued_on")),
        schema="resources",
    )
    op.create_table(
        "active_members",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("teacher_id", sa.UUID(), nullable=False),
        sa.Column("municipality", sa.String(length=32), nullable=False),
        sa.Column("organisation", sa.String(length=32), nullable=True),
        sa.Column("subjects", postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=True),
        sa.Column("basis_kind", sa.String(length=40), nullable=False),
        sa.Column("basis_campaign", sa.String(length=64), nullable=True),
        sa.Column("basis_level", sa.String(length=16), nullable=True),
        sa.Column(
            "criteria", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("left_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('candidate', 'member', 'left')", name=op.f("ck_active_members_status_known")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["resources.active_orders.id"], name=op.f("fk_active_members_order_id_active_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_members")),
        sa.UniqueConstraint("region", "teacher_id", name=op.f("uq_active_members_region_teacher_id")),
        schema="resources",
    )
    op.create_index("ix_active_members_order_id", "active_members", ["order_id"], unique=False, schema="resources")
    op.create_index(
        "ix_active_members_region_status_municipality",
        "active_members",
        ["region", "status", "municipality", "id"],
        unique=False,
        schema="resources",
    )
    op.create_index(
        "ix_active_members_subjects",
        "active_members",
        ["subjects"],
        unique=False,
        schema="resources",
        postgresql_using="gin",
    )
    op.create_table(
        "active_member_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("status_from", sa.String(length=16), nullable=True),
        sa.Column("status_to", sa.String(length=16), nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["resources.active_members.id"],
            name=op.f("fk_active_member_events_member_id_active_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["resources.active_orders.id"], name=op.f("fk_active_member_events_order_id_active_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_member_events")),
        schema="resources",
    )
    op.create_index(
        "ix_active_member_events_member_id",
        "active_member_events",
        ["member_id", "id"],
        unique=False,
        schema="resources",
    )
    op.add_column("mentors", sa.Column("member_id", sa.UUID(), nullable=True), schema="resources")
    op.execute(LINK_EXISTING_MENTORS)
    op.execute(
        "UPDATE resources.mentors m SET member_id = a.id FROM resources.active_members a "
        "WHERE a.region = m.region AND a.teacher_id = m.teacher_id"
    )
    op.alter_column("mentors", "member_id", nullable=False, schema="resources")
    op.create_foreign_key(
        op.f("fk_mentors_member_id_active_members"),
        "mentors",
        "active_members",
        ["member_id"],
        ["id"],
        source_schema="resources",
        referent_schema="resources",
    )
    op.create_index("ix_mentors_member_id", "mentors", ["member_id"], unique=True, schema="resources")


def downgrade() -> None:
    op.drop_index("ix_mentors_member_id", table_name="mentors", schema="resources")
    op.drop_constraint(op.f("fk_mentors_member_id_active_members"), "mentors", schema="resources", type_="foreignkey")
    op.drop_column("mentors", "member_id", schema="resources")
    op.drop_index("ix_active_member_events_member_id", table_name="active_member_events", schema="resources")
    op.drop_table("active_member_events", schema="resources")
    op.drop_index("ix_active_members_subjects", table_name="active_members", schema="resources")
    op.drop_index("ix_active_members_region_status_municipality", table_name="active_members", schema="resources")
    op.drop_index("ix_active_members_order_id", table_name="active_members", schema="resources")
    op.drop_table("active_members", schema="resources")
    op.drop_table("active_orders", schema="resources")
