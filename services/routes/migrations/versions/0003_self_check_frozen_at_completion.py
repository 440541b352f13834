"""the self-check as it stood when the route was completed: what the audit reads, never changed afterwards

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 12:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('routes', sa.Column('self_check_at_completion', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
                  schema='routes')


def downgrade() -> None:
    op.drop_column('routes', 'self_check_at_completion', schema='routes')
