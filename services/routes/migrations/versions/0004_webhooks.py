"""signed webhooks: subscriptions of a territory, the outbox of events, deliveries and every attempt

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 13:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'webhook_subscriptions',
        sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
        sa.Column('region', sa.String(length=32), nullable=True),
        sa.Column('municipality', sa.String(length=32), nullable=True),
        sa.Column('organisation', sa.String(length=32), nullable=True),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('events', postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column('description', sa.Text(), server_default='', nullable=False),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('failure_run', sa.Integer(), server_default='0', nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions')),
        schema='routes',
    )
    op.create_index('ix_webhook_subscriptions_territory', 'webhook_subscriptions',
                    ['region', 'municipality', 'organisation'], unique=False, schema='routes')
    op.create_table(
        'webhook_events',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('region', sa.String(length=32), nullable=True),
        sa.Column('municipality', sa.String(length=32), nullable=True),
        sa.Column('organisation', sa.String(length=32), nullable=True),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
        schema='routes',
    )
    op.create_index('ix_webhook_events_pending', 'webhook_events', ['occurred_at'], unique=False, schema='routes',
                    postgresql_where=sa.text('dispatched_at IS NULL'))
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column('subscription_id', sa.UUID(), nullable=False),
        sa.Column('event_id', sa.UUID(), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['subscription_id'], ['routes.webhook_subscriptions.id'],
                                name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint('subscription_id', 'event_id', name=op.f('uq_webhook_deliveries_subscription_id_event_id')),
        schema='routes',
    )
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['next_attempt_at'], unique=False,
                    schema='routes', postgresql_where=sa.text("state = 'pending'"))
    op.create_table(
        'webhook_attempts',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column('delivery_id', sa.BigInteger(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=24), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['routes.webhook_deliveries.id'],
                                name=op.f('fk_webhook_attempts_delivery_id_webhook_deliveries'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
        schema='routes',
    )
    op.create_index('ix_webhook_attempts_delivery_id', 'webhook_attempts', ['delivery_id'], unique=False,
                    schema='routes')


def downgrade() -> None:
    op.drop_index('ix_webhook_attempts_delivery_id', table_name='webhook_attempts', schema='routes')
    op.drop_table('webhook_attempts', schema='routes')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries', schema='routes',
                  postgresql_where=sa.text("state = 'pending'"))
    op.drop_table('webhook_deliveries', schema='routes')
    op.drop_index('ix_webhook_events_pending', table_name='webhook_events', schema='routes',
                  postgresql_where=sa.text('dispatched_at IS NULL'))
    op.drop_table('webhook_events', schema='routes')
    op.drop_index('ix_webhook_subscriptions_territory', table_name='webhook_subscriptions', schema='routes')
    op.drop_table('webhook_subscriptions', schema='routes')
