"""personal data: teachers can be depersonalised, and a log of who did it

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 05:00:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('teachers', sa.Column('depersonalised_at', sa.DateTime(timezone=True), nullable=True), schema='assessment')
    op.create_table('personal_data_log',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('actor_role', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('teacher_id', sa.UUID(), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_data_log')),
    schema='assessment'
    )
    op.create_index(op.f('ix_personal_data_log_teacher_id'), 'personal_data_log', ['teacher_id'], unique=False, schema='assessment')


def downgrade() -> None:
    op.drop_index(op.f('ix_personal_data_log_teacher_id'), table_name='personal_data_log', schema='assessment')
    op.drop_table('personal_data_log', schema='assessment')
    op.drop_column('teachers', 'depersonalised_at', schema='assessment')
