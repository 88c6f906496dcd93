"""Open311: API keys, what a client sent beyond the ticket (open311_requests), ticket source 'open311'

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-03 08:10:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0003'
branch_labels = None
depends_on = None

OLD = ('hotline', 'voicemail', 'callback', 'web', 'inspector')
NEW = OLD + ('open311',)


def _source(values: tuple[str, ...]) -> sa.Enum:
    # A CHECK constraint, not a PostgreSQL ENUM type (models._enum): adding a value swaps the constraint.
    return sa.Enum(*values, name='ticket_source', native_enum=False, create_constraint=True, length=24)


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_address', sa.String(length=64), nullable=False),
    sa.Column('request_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('open311_requests',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('address_id', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('first_name', sa.String(length=50), nullable=False),
    sa.Column('last_name', sa.String(length=50), nullable=False),
    sa.Column('media_url', sa.String(length=2048), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_open311_requests_api_key_id_api_keys')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_open311_requests_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_open311_requests')),
    sa.UniqueConstraint('token', name=op.f('uq_open311_requests_token'))
    )
    op.create_index(op.f('ix_open311_requests_api_key_id'), 'open311_requests', ['api_key_id'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column('source', existing_type=_source(OLD), type_=_source(NEW), existing_nullable=False)


def downgrade() -> None:
    op.execute("UPDATE tickets SET source = 'web' WHERE source = 'open311'")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.alter_column('source', existing_type=_source(NEW), type_=_source(OLD), existing_nullable=False)
    op.drop_index(op.f('ix_open311_requests_api_key_id'), table_name='open311_requests')
    op.drop_table('open311_requests')
    op.drop_table('api_keys')
