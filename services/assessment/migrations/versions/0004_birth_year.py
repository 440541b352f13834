"""teachers: an optional year of birth (the KPI of young teachers with a mentor)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 06:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('teachers', sa.Column('birth_year', sa.SmallInteger(), nullable=True), schema='assessment')


def downgrade() -> None:
    op.drop_column('teachers', 'birth_year', schema='assessment')
