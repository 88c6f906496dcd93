"""the desk: sessions, login failures, the append-only audit log, user queues and settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 06:05:00
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('desk_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_desk_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_desk_sessions'))
    )
    op.create_index(op.f('ix_desk_sessions_user_id'), 'desk_sessions', ['user_id'], unique=False)
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    op.create_index(op.f('ix_login_failures_at'), 'login_failures', ['at'], unique=False)
    op.create_index(op.f('ix_login_failures_username'), 'login_failures', ['username'], unique=False)
    op.create_index(op.f('ix_login_failures_address'), 'login_failures', ['address'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_log_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    op.create_index(op.f('ix_audit_log_user_id'), 'audit_log', ['user_id'], unique=False)
    op.create_table('user_queues',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_queues_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'queue', name=op.f('pk_user_queues'))
    )
    op.create_table('user_settings',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_settings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_settings'))
    )
    # The database itself refuses to rewrite the audit log, whoever connects (as 0001 does
    # for ticket history; PostgreSQL's hotline_append_only() function comes from 0001).
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION hotline_append_only()")
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    elif dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{verb}")
    op.drop_table('user_settings')
    op.drop_table('user_queues')
    op.drop_index(op.f('ix_audit_log_user_id'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index(op.f('ix_login_failures_address'), table_name='login_failures')
    op.drop_index(op.f('ix_login_failures_username'), table_name='login_failures')
    op.drop_index(op.f('ix_login_failures_at'), table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index(op.f('ix_desk_sessions_user_id'), table_name='desk_sessions')
    op.drop_table('desk_sessions')
