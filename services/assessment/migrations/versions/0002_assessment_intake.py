"""assessment intake: frameworks, campaigns, results, change feed, intake batches

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:53:48.669890
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('frameworks',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=True),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_frameworks')),
    sa.UniqueConstraint('region', 'code', 'version', name=op.f('uq_frameworks_region_code_version'), postgresql_nulls_not_distinct=True),
    schema='assessment'
    )
    op.create_table('campaigns',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False),
    sa.Column('assessed_on', sa.Date(), nullable=False),
    sa.Column('framework_id', sa.UUID(), nullable=False),
    sa.Column('instrument', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='open', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['framework_id'], ['assessment.frameworks.id'], name=op.f('fk_campaigns_framework_id_frameworks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    schema='assessment'
    )
    op.create_index(op.f('ix_campaigns_framework_id'), 'campaigns', ['framework_id'], unique=False, schema='assessment')
    op.create_index('ix_campaigns_region_assessed_on', 'campaigns', ['region', 'assessed_on', 'id'], unique=False, schema='assessment')
    op.create_table('intake_batches',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('principal', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['assessment.campaigns.id'], name=op.f('fk_intake_batches_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_batches')),
    schema='assessment'
    )
    op.create_index(op.f('ix_intake_batches_campaign_id'), 'intake_batches', ['campaign_id'], unique=False, schema='assessment')
    op.create_table('results',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('teacher_id', sa.UUID(), nullable=False),
    sa.Column('framework_id', sa.UUID(), nullable=False),
    sa.Column('batch_id', sa.UUID(), nullable=True),
    sa.Column('item_points', postgresql.ARRAY(sa.Numeric(precision=8, scale=2)), nullable=True),
    sa.Column('competency_points', postgresql.ARRAY(sa.Numeric(precision=8, scale=2)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('total_points', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('max_points', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('grp', sa.SmallInteger(), nullable=False),
    sa.Column('level_source', sa.String(length=16), server_default='computed', nullable=False),
    sa.Column('deficit_codes', postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('growth_codes', postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('strength_codes', postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['assessment.campaigns.id'], name=op.f('fk_results_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['framework_id'], ['assessment.frameworks.id'], name=op.f('fk_results_framework_id_frameworks')),
    sa.ForeignKeyConstraint(['teacher_id'], ['assessment.teachers.id'], name=op.f('fk_results_teacher_id_teachers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_results')),
    sa.UniqueConstraint('campaign_id', 'teacher_id', name=op.f('uq_results_campaign_id_teacher_id')),
    schema='assessment'
    )
    op.create_index(op.f('ix_results_teacher_id'), 'results', ['teacher_id'], unique=False, schema='assessment')
    op.create_table('result_changes',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('txid', sa.BigInteger(), server_default=sa.text('(pg_current_xact_id()::text)::bigint'), nullable=False),
    sa.Column('result_id', sa.UUID(), nullable=False),
    sa.Column('teacher_id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('result_version', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['result_id'], ['assessment.results.id'], name=op.f('fk_result_changes_result_id_results')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_result_changes')),
    schema='assessment'
    )
    op.create_index(op.f('ix_result_changes_result_id'), 'result_changes', ['result_id'], unique=False, schema='assessment')
    op.create_index('ix_result_changes_txid_seq', 'result_changes', ['txid', 'seq'], unique=False, schema='assessment')


def downgrade() -> None:
    op.drop_index('ix_result_changes_txid_seq', table_name='result_changes', schema='assessment')
    op.drop_index(op.f('ix_result_changes_result_id'), table_name='result_changes', schema='assessment')
    op.drop_table('result_changes', schema='assessment')
    op.drop_index(op.f('ix_results_teacher_id'), table_name='results', schema='assessment')
    op.drop_table('results', schema='assessment')
    op.drop_index(op.f('ix_intake_batches_campaign_id'), table_name='intake_batches', schema='assessment')
    op.drop_table('intake_batches', schema='assessment')
    op.drop_index('ix_campaigns_region_assessed_on', table_name='campaigns', schema='assessment')
    op.drop_index(op.f('ix_campaigns_framework_id'), table_name='campaigns', schema='assessment')
    op.drop_table('campaigns', schema='assessment')
    op.drop_table('frameworks', schema='assessment')
