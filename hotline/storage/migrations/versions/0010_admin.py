"""admin settings: configuration sections administrators set from the desk

Revision ID: 0010
Revises: 0003
Create Date: 2026-12-03 08:15:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('admin_settings',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_admin_settings')),
    sa.UniqueConstraint('revision', name=op.f('uq_admin_settings_revision'))
    )


def downgrade() -> None:
    op.drop_table('admin_settings')
