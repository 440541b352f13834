"""exports keyed by region too: each region with routes in a month gets its own region workbook record

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:40:00
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint('uq_exports_month_municipality_format', 'exports', schema='routes', type_='unique')
    op.create_unique_constraint(op.f('uq_exports_month_region_municipality_format'), 'exports',
                                ['month', 'region', 'municipality', 'format'], schema='routes')


def downgrade() -> None:
    # Refuses while two regions' workbooks of one month are recorded (their month, municipality and format agree).
    op.drop_constraint('uq_exports_month_region_municipality_format', 'exports', schema='routes', type_='unique')
    op.create_unique_constraint(op.f('uq_exports_month_municipality_format'), 'exports',
                                ['month', 'municipality', 'format'], schema='routes')
