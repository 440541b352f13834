"""the methodological active's expert work (assignments to duties) and training (enrolments in courses)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 06:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "active_expert_assignments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("duty", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("load", sa.Integer(), nullable=False),
        sa.Column("schools", postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_active_expert_assignments_period_ordered")),
        sa.CheckConstraint("load > 0", name=op.f("ck_active_expert_assignments_load_positive")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["resources.active_members.id"],
            name=op.f("fk_active_expert_assignments_member_id_active_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_expert_assignments")),
        schema="resources",
    )
    op.create_index(
        "ix_active_expert_assignments_member_id",
        "active_expert_assignments",
        ["member_id", "id"],
        unique=False,
        schema="resources",
    )
    op.create_index(
        "ix_active_expert_assignments_region_starts",
        "active_expert_assignments",
        ["region", "starts_on", "id"],
        unique=False,
        schema="resources",
    )
    op.create_table(
        "active_enrolments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("resource_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('enrolled', 'completed')", name=op.f("ck_active_enrolments_status_known")),
        sa.CheckConstraint(
            "(status = 'completed') = (completed_on IS NOT NULL)", name=op.f("ck_active_enrolments_completed_dated")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["resources.active_members.id"],
            name=op.f("fk_active_enrolments_member_id_active_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resources.resources.id"], name=op.f("fk_active_enrolments_resource_id_resources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_active_enrolments")),
        sa.UniqueConstraint("member_id", "resource_id", name=op.f("uq_active_enrolments_member_id_resource_id")),
        schema="resources",
    )
    op.create_index(
        "ix_active_enrolments_region_enrolled",
        "active_enrolments",
        ["region", "enrolled_on", "id"],
        unique=False,
        schema="resources",
    )
    op.create_index(
        "ix_active_enrolments_resource_id", "active_enrolments", ["resource_id"], unique=False, schema="resources"
    )


def downgrade() -> None:
    op.drop_index("ix_active_enrolments_resource_id", table_name="active_enrolments", schema="resources")
    op.drop_index("ix_active_enrolments_region_enrolled", table_name="active_enrolments", schema="resources")
    op.drop_table("active_enrolments", schema="resources")
    op.drop_index(
        "ix_active_expert_assignments_region_starts", table_name="active_expert_assignments", schema="resources"
    )
    op.drop_index("ix_active_expert_assignments_member_id", table_name="active_expert_assignments", schema="resources")
    op.drop_table("active_expert_assignments", schema="resources")
