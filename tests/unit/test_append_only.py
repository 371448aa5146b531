"""Reviews and audit events are append-only in the database itself (issue 12: they could be changed
or deleted with plain SQL). SQLite always; PostgreSQL when LEXDORA_TEST_POSTGRES_URL names a server
(scripts/pg_test_server.sh starts a throwaway one)."""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db import AuditEvent, Clause, Contract, Review, User, make_engine, upgrade

PG_URL = os.environ.get("LEXDORA_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'lexdora.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("set LEXDORA_TEST_POSTGRES_URL to run against PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _seed(engine) -> None:
    with Session(engine) as session, session.begin():
        user = User(name="rev", role="reviewer", password_hash="x")
        session.add(user)
        session.flush()
        contract = Contract(sha256="0" * 64, filename="c.txt", format="txt", size_bytes=1, uploaded_by_id=user.id,
                            text="x")
        session.add(contract)
        session.flush()
        clause = Clause(contract_id=contract.id, index=0, text="x", start=0, end=1, status="reviewed", label="capped")
        session.add(clause)
        session.flush()
        session.add(Review(clause_id=clause.id, reviewer_id=user.id, previous_label="uncapped", new_label="capped",
                           model_label="uncapped", comment=""))
        session.add(AuditEvent(user_id=user.id, action="review", entity="clause", entity_id=clause.id, detail={}))


STATEMENTS = [
    "UPDATE reviews SET new_label = 'uncapped'",
    "DELETE FROM reviews",
    "UPDATE audit_events SET action = 'nothing'",
    "DELETE FROM audit_events",
]


@pytest.mark.parametrize("sql", STATEMENTS)
def test_plain_sql_cannot_change_or_delete_reviews_and_audit_events(engine, sql):
    _seed(engine)
    table = sql.split()[1] if sql.startswith("UPDATE") else sql.split()[2]
    with pytest.raises(DBAPIError, match=f"{table} is append-only"):
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 1
        assert conn.exec_driver_sql("SELECT new_label FROM reviews").scalar() == "capped"


def test_orm_updates_and_deletes_are_refused_too(engine):
    _seed(engine)
    for statement in (update(Review).values(comment="rewritten"), delete(AuditEvent)):
        with pytest.raises(DBAPIError, match="append-only"), Session(engine) as session, session.begin():
            session.execute(statement)


def test_truncate_is_refused_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    _seed(engine)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE reviews")


def test_appending_and_the_other_tables_are_unaffected(engine):
    _seed(engine)
    _seed_more = "UPDATE clauses SET label = 'uncapped'"
    with engine.begin() as conn:
        conn.exec_driver_sql(_seed_more)  # clause state is current state, not history: it may change
        reviewer = conn.exec_driver_sql("SELECT id FROM users").scalar()
        clause = conn.exec_driver_sql("SELECT id FROM clauses").scalar()
    with Session(engine) as session, session.begin():
        session.add(Review(clause_id=clause, reviewer_id=reviewer, previous_label="capped", new_label="uncapped",
                           model_label="uncapped", comment="second look"))
        session.add(AuditEvent(user_id=reviewer, action="review", entity="clause", entity_id=clause, detail={}))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM reviews").scalar() == 2


def test_downgrade_drops_the_triggers(engine):
    from alembic import command
    from alembic.config import Config

    from app.db.session import ALEMBIC_INI, MIGRATIONS_DIR

    _seed(engine)  # at head: the ORM models are those of head (0004 added columns to contracts)
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")  # just below the triggers, through 0004 with rows in place
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM reviews")
    upgrade(engine)
    with engine.connect() as conn:  # back at head: 0004's columns are there again, the old row has its default
        assert conn.exec_driver_sql("SELECT progress, error FROM contracts").all() == [(1.0, None)]
