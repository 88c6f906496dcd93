"""oversight: 督办 (urges) and departments' extension requests

Revision ID: 0009
Revises: 0003
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table('urges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_urges_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['by_user_id'], ['users.id'], name=op.f('fk_urges_by_user_id_users')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_urges_department_id_departments')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_urges_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_urges'))
    )
    op.create_index('ix_urges_at', 'urges', ['at'], unique=False)
    op.create_index('ix_urges_department_id_at', 'urges', ['department_id', 'at'], unique=False)
    op.create_index(op.f('ix_urges_ticket_id'), 'urges', ['ticket_id'], unique=False)
    op.create_table('extension_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by_user_id', sa.Integer(), nullable=True),
    sa.Column('added', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('proposed_deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.Column('new_deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'refused', 'lapsed')", name=op.f('ck_extension_requests_status')),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], name=op.f('fk_extension_requests_assignment_id_assignments')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_extension_requests_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_extension_requests_department_id_departments')),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['users.id'], name=op.f('fk_extension_requests_requested_by_user_id_users')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_extension_requests_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension_requests'))
    )
    op.create_index('ix_extension_requests_department_id_requested_at', 'extension_requests', ['department_id', 'requested_at'], unique=False)
    op.create_index('ix_extension_requests_status_requested_at', 'extension_requests', ['status', 'requested_at'], unique=False)
    op.create_index(op.f('ix_extension_requests_ticket_id'), 'extension_requests', ['ticket_id'], unique=False)
    op.create_index('uq_extension_requests_pending_ticket_id', 'extension_requests', ['ticket_id'], unique=True, sqlite_where=PENDING, postgresql_where=PENDING)
    # 督办 records are append-only in the database too (hotline_append_only() comes from 0001).
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE TRIGGER urges_append_only BEFORE UPDATE OR DELETE ON urges FOR EACH ROW EXECUTE FUNCTION hotline_append_only()")
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER urges_no_{verb.lower()} BEFORE {verb} ON urges BEGIN SELECT RAISE(ABORT, 'urges is append-only'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS urges_append_only ON urges")
    elif dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS urges_no_{verb}")
    op.drop_index('uq_extension_requests_pending_ticket_id', table_name='extension_requests')
    op.drop_index(op.f('ix_extension_requests_ticket_id'), table_name='extension_requests')
    op.drop_index('ix_extension_requests_status_requested_at', table_name='extension_requests')
    op.drop_index('ix_extension_requests_department_id_requested_at', table_name='extension_requests')
    op.drop_table('extension_requests')
    op.drop_index(op.f('ix_urges_ticket_id'), table_name='urges')
    op.drop_index('ix_urges_department_id_at', table_name='urges')
    op.drop_index('ix_urges_at', table_name='urges')
    op.drop_table('urges')
