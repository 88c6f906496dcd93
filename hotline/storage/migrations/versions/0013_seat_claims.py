"""seat claims: each automatic seat action (wrap-up, leaving after a call) done by one desk process

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-03 11:40:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('seat_claims',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_seat_claims'))
    )
    op.create_index(op.f('ix_seat_claims_at'), 'seat_claims', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_seat_claims_at'), table_name='seat_claims')
    op.drop_table('seat_claims')
