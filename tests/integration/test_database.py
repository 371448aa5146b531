"""The real schema: Alembic on a SQLite file, SQLite pragmas, and claims under concurrent reviewers."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from app.db import Base, Clause, make_engine, session_factory, upgrade
from app.db.session import ALEMBIC_INI, MIGRATIONS_DIR

ROOT = Path(__file__).resolve().parents[2]
TABLES = {"users", "contracts", "clauses", "predictions", "reviews", "audit_events", "login_sessions", "alembic_version"}


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'lexdora.db'}"


def test_upgrade_to_head_matches_the_models(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) == TABLES
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_downgrade_to_base_and_up_again(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) == TABLES


def test_sqlite_file_runs_in_wal_mode_with_foreign_keys(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    factory = session_factory(db_url)
    with factory() as session, pytest.raises(IntegrityError):
        session.add(Clause(contract_id=12345, index=0, text="x", start=0, end=1, status="auto_accepted",
                           label="none"))
        session.flush()


def test_session_factory_migrates_a_new_database_on_first_use(db_url):
    factory = session_factory(db_url)
    with factory() as session:
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == _head()
    assert session_factory(db_url) is factory


def test_alembic_command_line_upgrades_the_configured_database(db_url, tmp_path):
    import subprocess
    import sys

    env = {"LEXDORA_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", "app/db/alembic.ini", "upgrade", "head"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert set(inspect(make_engine(db_url)).get_table_names()) == TABLES


def test_concurrent_transactions_wait_instead_of_failing(db_url):
    """BEGIN IMMEDIATE: writers queue on the lock instead of hitting SQLITE_BUSY mid-transaction."""
    factory = session_factory(db_url)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                with factory() as s:
                    s.execute(text("SELECT count(*) FROM users")).scalar()  # read first, then write
                    s.execute(text("INSERT INTO users (name, role, password_hash, active, created_at) "
                                   "VALUES (:n, 'lawyer', 'h', 1, '2026-01-01')"), {"n": f"u{n}-{i}"})
                    s.commit()
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as s:
        assert s.execute(text("SELECT count(*) FROM users")).scalar() == 80


def _head() -> str:
    """The newest migration's revision, read from the migrations folder (not written out by hand)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.db.session import ALEMBIC_INI, MIGRATIONS_DIR

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()
