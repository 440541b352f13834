"""route contents compressed with lz4 where the server has it

A route's content is 20-30 kB of JSON; PostgreSQL compresses it on every write, and with the default
pglz that was over half of the database's CPU while routes were generated (perf, 50,000 routes).
lz4 compresses several times faster at a similar size. A server built without lz4 (the embedded
PostgreSQL of local runs) keeps pglz: the statement is skipped there. Rows already stored keep their
compression until they are written again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 13:50:00
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

COLUMNS = (('routes', 'content'), ('route_versions', 'content'))


def _compression(method: str) -> None:
    for table, column in COLUMNS:
        op.execute(
            "DO $$ BEGIN "
            f"ALTER TABLE routes.{table} ALTER COLUMN {column} SET COMPRESSION {method}; "
            "EXCEPTION WHEN feature_not_supported THEN NULL; END $$"
        )


def upgrade() -> None:
    _compression('lz4')


def downgrade() -> None:
    _compression('default')
