"""reports and the wallboard: a covering index for the call-centre figures, a partial index of open answered calls

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_calls_started_at_figures', 'calls', ['started_at', 'direction', 'queue', 'disposition', 'wait_seconds', 'talk_seconds', 'agent_user_id', 'agent_interface'], unique=False)
    op.create_index(
        'ix_calls_open_answered', 'calls', ['agent_interface', 'answered_at'], unique=False,
        sqlite_where=sa.text('answered_at IS NOT NULL AND ended_at IS NULL'),
        postgresql_where=sa.text('answered_at IS NOT NULL AND ended_at IS NULL'),
    )


def downgrade() -> None:
    op.drop_index('ix_calls_open_answered', table_name='calls')
    op.drop_index('ix_calls_started_at_figures', table_name='calls')
