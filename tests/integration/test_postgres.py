"""The same schema and claims on PostgreSQL; runs when LEXDORA_TEST_POSTGRES_URL names a database.

Each test works in a schema of its own (dropped afterwards), so the database can be shared.
Example: LEXDORA_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:54329/lexdora_test
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from argon2 import PasswordHasher
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from app import services
from app.config import get_settings
from app.db import Base, Clause, make_engine, session_factory, upgrade
from tests.fakes import CONTRACT, UncertainScorer
from tests.review_race import drain_queue_concurrently

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("LEXDORA_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not BASE_URL, reason="set LEXDORA_TEST_POSTGRES_URL to run against PostgreSQL")


@pytest.fixture
def pg_url():
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(BASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def env(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LEXDORA_DATABASE_URL", pg_url)
    monkeypatch.setenv("LEXDORA_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setattr(services.users, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    get_settings.cache_clear()
    yield pg_url
    get_settings.cache_clear()


def test_upgrade_to_head_matches_the_models(pg_url):
    engine = make_engine(pg_url)
    upgrade(engine)
    assert "clauses" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_processes_starting_together_migrate_once(pg_url):
    # Processes, not threads: Alembic's migration context is global to a process.
    code = "import sys; from app.db import make_engine, upgrade; upgrade(make_engine(sys.argv[1]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_url], cwd=ROOT, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    try:
        errors = [p.communicate(timeout=120)[1] for p in procs if p.wait(timeout=120)]
    finally:
        for p in procs:
            p.kill()
    assert errors == []
    with make_engine(pg_url).connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == _head()


def _setup(n_reviewers: int):
    admin = services.register_user("ann", "admin-pass", "admin")
    lawyer = services.register_user("lee", "lee-pass-1", "lawyer", actor_id=admin.id)
    reviewers = [services.register_user(f"rev{i}", f"rev{i}-pass", "reviewer", actor_id=admin.id)
                 for i in range(n_reviewers)]
    services.upload_contract(lawyer.id, "msa.txt", CONTRACT.encode(), scorer_factory=UncertainScorer)
    return admin, lawyer, reviewers


def test_a_claim_racing_an_uncommitted_claim_takes_the_next_clause(env):
    _, _, (rev1, rev2) = _setup(2)
    factory = session_factory(env)
    first = services.claim_next_review(rev1.id)
    services.release_claim(rev1.id, first.clause.id)

    # Reviewer 1's claim of the head of the queue, caught between its UPDATE and its COMMIT.
    holder = factory()
    holder.execute(text("UPDATE clauses SET claimed_by_id = :u, claim_expires_at = now() + interval '15 min' "
                        "WHERE id = :c"), {"u": rev1.id, "c": first.clause.id})
    result = {}
    racer = threading.Thread(target=lambda: result.update(task=services.claim_next_review(rev2.id)))
    racer.start()
    deadline = time.monotonic() + 30
    with factory() as probe:  # wait until reviewer 2 is blocked on the row lock, then let reviewer 1 commit
        while not probe.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                     "AND datname = current_database()")).scalar():
            assert time.monotonic() < deadline, "reviewer 2 never waited on the row lock"
            probe.rollback()
    holder.commit()
    holder.close()
    racer.join(30)
    assert result["task"].clause.id != first.clause.id


def test_reviewers_working_at_once_never_get_the_same_clause(env):
    admin, _, reviewers = _setup(4)
    queued = services.dashboard_stats(admin.id).n_needs_review
    served = drain_queue_concurrently([r.id for r in reviewers], label=lambda task: "none")
    all_served = [cid for ids in served.values() for cid in ids]
    assert len(all_served) == len(set(all_served)) == queued == 6
    with session_factory()() as s:
        assert s.scalar(select(func.count()).where(Clause.status == "needs_review")) == 0


def test_export_on_postgres_contains_the_correction(env):
    _, lawyer, (rev,) = _setup(1)
    task = services.claim_next_review(rev.id)
    services.submit_review(rev.id, task.clause.id, "capped", "a cap")
    rows = services.export_labels(lawyer.id, "jsonl").decode().splitlines()
    assert any('"label": "capped"' in r and '"comment": "a cap"' in r for r in rows)


def _head() -> str:
    """The newest migration's revision, read from the migrations folder (not written out by hand)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.db.session import ALEMBIC_INI, MIGRATIONS_DIR

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()
