"""reports per intake operator: tickets.intake_user_id, kept by the database from the history

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-03 14:20:00

The operator a ticket counts for is the desk user of the first intake move in its history
(hotline.tickets.kpi._intake_user). Looking that up per ticket made a quarter's report per
operator twice as slow as per department at 1 M tickets, so the tickets carry it:

- a trigger on ticket_events recomputes it with that very lookup after every insert of an
  intake move, whoever inserts it (the workflow, an import, a bench's SQL);
- ticket_events is append-only (migration 0001's triggers refuse UPDATE and DELETE), so no
  other change can alter the lookup's answer;
- the upgrade fills it in for the tickets there are.

No foreign key: the value is always an actor_user_id of ticket_events, which has one (and
SQLite cannot add a constraint to an existing table without rebuilding it).
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None

#: As in hotline.storage.models.INTAKE_WHERE (and hotline.tickets.kpi.INTAKE_ACTIONS).
WHERE = "actor_user_id IS NOT NULL AND action IN ('receive', 'register', 'reject', 'answer')"
#: hotline.tickets.kpi._intake_user for the ticket `{ticket}`.
FIRST = f"(SELECT actor_user_id FROM ticket_events WHERE ticket_id = {{ticket}} AND {WHERE} ORDER BY seq LIMIT 1)"
NEW_WHERE = WHERE.replace("actor_user_id", "NEW.actor_user_id").replace("action", "NEW.action")


def upgrade() -> None:
    op.add_column('tickets', sa.Column('intake_user_id', sa.Integer(), nullable=True))
    first = FIRST.format(ticket="tickets.id")
    op.execute(f"UPDATE tickets SET intake_user_id = {first} WHERE id IN (SELECT ticket_id FROM ticket_events WHERE {WHERE})")
    first = FIRST.format(ticket="NEW.ticket_id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION hotline_intake_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"UPDATE tickets SET intake_user_id = {first} WHERE id = NEW.ticket_id AND intake_user_id IS DISTINCT FROM {first}; "
            "RETURN NULL; END $$"
        )
        op.execute(f"CREATE TRIGGER ticket_events_intake_user AFTER INSERT ON ticket_events FOR EACH ROW WHEN ({NEW_WHERE}) EXECUTE FUNCTION hotline_intake_user()")
    else:
        op.execute(
            f"CREATE TRIGGER ticket_events_intake_user AFTER INSERT ON ticket_events WHEN {NEW_WHERE} BEGIN "
            f"UPDATE tickets SET intake_user_id = {first} WHERE id = NEW.ticket_id AND intake_user_id IS NOT {first}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ticket_events_intake_user ON ticket_events")
        op.execute("DROP FUNCTION IF EXISTS hotline_intake_user()")
    else:
        op.execute("DROP TRIGGER IF EXISTS ticket_events_intake_user")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('intake_user_id')
