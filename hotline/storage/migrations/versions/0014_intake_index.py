"""reports per intake operator: a partial covering index of the tickets' intake moves

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-03 11:40:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None

#: As in hotline.storage.models.INTAKE_WHERE (and hotline.tickets.kpi.INTAKE_ACTIONS).
WHERE = "actor_user_id IS NOT NULL AND action IN ('receive', 'register', 'reject', 'answer')"


def upgrade() -> None:
    op.create_index(
        'ix_ticket_events_intake', 'ticket_events', ['ticket_id', 'seq', 'actor_user_id'], unique=False,
        sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index('ix_ticket_events_intake', table_name='ticket_events')
