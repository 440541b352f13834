"""api key scopes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys issued before scopes existed get none: they are refused until re-issued with the scopes they need.
    op.add_column(
        'api_keys',
        sa.Column('scopes', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        schema='gateway',
    )
    # The `service` role is the services' own identity; no key may carry it any longer.
    op.execute("UPDATE gateway.api_keys SET revoked_at = now() WHERE role = 'service' AND revoked_at IS NULL")


def downgrade() -> None:
    op.drop_column('api_keys', 'scopes', schema='gateway')
