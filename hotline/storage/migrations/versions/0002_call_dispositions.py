"""call dispositions reconciled from the IVR and the queue: refused, timed_out, service_down;
calls.queue_result and calls.facts

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 05:30:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

OLD = ('in_progress', 'queued', 'answered', 'abandoned', 'ivr_abandoned', 'voicemail', 'callback_requested', 'self_service', 'failed')
NEW = OLD + ('refused', 'timed_out', 'service_down')


def _disposition(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name='call_disposition', native_enum=False, create_constraint=True, length=24)


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_result', sa.String(length=16), server_default='', nullable=False))
        batch_op.add_column(sa.Column('facts', sa.JSON(), server_default=sa.text("'{}'"), nullable=False))
        batch_op.alter_column('disposition', existing_type=_disposition(OLD), type_=_disposition(NEW), existing_nullable=False)


def downgrade() -> None:
    op.execute("UPDATE calls SET disposition = 'abandoned' WHERE disposition IN ('refused', 'timed_out', 'service_down')")
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.alter_column('disposition', existing_type=_disposition(NEW), type_=_disposition(OLD), existing_nullable=False)
        batch_op.drop_column('facts')
        batch_op.drop_column('queue_result')
