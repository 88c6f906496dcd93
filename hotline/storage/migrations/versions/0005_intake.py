"""intake: citizens added to an existing case (重复件)

Revision ID: 0005
Revises: 0010
Create Date: 2026-12-03 08:20:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_reporters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('caller_number', sa.String(length=32), nullable=False),
    sa.Column('caller_name', sa.String(length=100), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_ticket_reporters_call_id_calls')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_reporters_ticket_id_tickets')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ticket_reporters_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_reporters'))
    )
    op.create_index(op.f('ix_ticket_reporters_ticket_id'), 'ticket_reporters', ['ticket_id'], unique=False)
    op.create_index(op.f('ix_ticket_reporters_caller_number'), 'ticket_reporters', ['caller_number'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ticket_reporters_caller_number'), table_name='ticket_reporters')
    op.drop_index(op.f('ix_ticket_reporters_ticket_id'), table_name='ticket_reporters')
    op.drop_table('ticket_reporters')
