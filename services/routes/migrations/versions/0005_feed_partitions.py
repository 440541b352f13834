"""the change feed in partitions: a cursor and a lease per partition

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 05:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feed_partitions',
        sa.Column('partitions', sa.Integer(), nullable=False),
        sa.Column('partition', sa.Integer(), nullable=False),
        sa.Column('cursor', sa.Text(), nullable=True),
        sa.Column('lease_owner', sa.String(length=200), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('partitions', 'partition', name=op.f('pk_feed_partitions')),
        schema='routes',
    )


def downgrade() -> None:
    op.drop_table('feed_partitions', schema='routes')
