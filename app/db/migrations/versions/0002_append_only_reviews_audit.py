"""reviews and audit events append-only: triggers refuse UPDATE and DELETE

Nothing in the application changes or deletes a review or an audit event; these triggers make the
database itself refuse it, so plain SQL (a console, a script, a compromised process with the app's
credentials) cannot rewrite the training labels or the audit trail without first dropping them,
which needs DDL rights and leaves the schema short of head.

SQLite: BEFORE UPDATE / BEFORE DELETE triggers that RAISE(ABORT). PostgreSQL: one trigger function,
row triggers for UPDATE and DELETE and a statement trigger for TRUNCATE. Other dialects: nothing.

A later revision that rebuilds either table (SQLite batch mode copies it) drops these triggers
with the old table and must create them again (call create_triggers() from this module).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TABLES = ("reviews", "audit_events")
MESSAGE = "is append-only: its rows cannot be changed or deleted"


def create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} {MESSAGE}'); END")
    elif dialect == "postgresql":
        op.execute(f"""CREATE FUNCTION lexdora_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% {MESSAGE}', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION lexdora_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION lexdora_append_only()")


def drop_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    elif dialect == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS lexdora_append_only()")


def upgrade() -> None:
    create_triggers()


def downgrade() -> None:
    drop_triggers()
