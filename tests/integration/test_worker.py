"""The scoring worker as it runs: `python -m app worker` (Huey on a SQLite queue) in its own process, the tiny model.

A worker that starts scores what was queued while none ran and what a stopped worker left half done, and
then what the app hands it through the queue.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import update

from app import services
from app.config import get_settings
from app.db import Contract, session_factory
from tests.browser.conftest import _tiny_default_version, start_worker, stop
from tests.conftest import ROOT

SAMPLES = [ROOT / "samples" / "paxmedica-master-service-agreement.txt", ROOT / "samples" / "xybernaut-sponsorship.pdf"]
TIMEOUT_S = 300   # torch import and model load on a busy 2-core machine, then two contracts


@pytest.fixture
def env(tmp_path, monkeypatch, tiny_model_dir):
    values = {"DATABASE_URL": f"sqlite:///{tmp_path / 'lexdora.db'}", "UPLOAD_DIR": tmp_path / "uploads",
              "REGISTRY_DIR": tmp_path / "registry", "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
              "DEFAULT_MODEL_DIR": _tiny_default_version(tmp_path / "default", tiny_model_dir), "DEVICE": "cpu"}
    for key, value in values.items():
        monkeypatch.setenv(f"LEXDORA_{key}", str(value))
    get_settings.cache_clear()
    yield dict(os.environ)
    get_settings.cache_clear()


def wait_until_scored(user_id: int, ids: list[int]) -> dict[int, services.ContractRow]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        rows = {r.contract.id: r for r in services.contract_overview(user_id) if r.contract.id in ids}
        if all(r.contract.status not in services.UNFINISHED for r in rows.values()):
            return rows
        time.sleep(0.5)   # another process writes the database: nothing here to wait on
    raise AssertionError(f"not scored within {TIMEOUT_S}s: {[(r.contract.id, r.contract.status) for r in rows.values()]}")


def test_a_starting_worker_resumes_unfinished_contracts_then_takes_new_ones(env, tmp_path):
    lawyer = services.register_user("lee", "lawyer-pass", "lawyer")
    lost = []   # queued while no worker ran, and the task never reached a queue
    ids = [services.queue_contract(lawyer.id, p.name, p.read_bytes(), enqueue=lost.append).contract_id
           for p in SAMPLES]
    with session_factory()() as s, s.begin():   # a worker was stopped halfway through the second one
        s.execute(update(Contract).where(Contract.id == ids[1]).values(status="scoring", progress=0.4))

    worker = start_worker(env, tmp_path / "worker.log")
    try:
        rows = wait_until_scored(lawyer.id, ids)
        for row in rows.values():
            assert row.contract.status in ("in_review", "complete") and row.contract.progress == 1.0
            assert row.contract.n_clauses > 10 and row.has_cap is not None
        # The app's side: the upload page hands a contract over through app.worker (another process).
        text = "1. Liability. Aggregate liability shall not exceed the fees paid.\n\n2. Term. One year.\n"
        new = services.queue_contract(lawyer.id, "new.txt", text.encode(), enqueue=lost.append).contract_id
        subprocess.run([sys.executable, "-c", f"from app.worker import enqueue_scoring; enqueue_scoring({new})"],
                       cwd=ROOT, env=env, check=True, timeout=60)
        assert wait_until_scored(lawyer.id, [new])[new].contract.status in ("in_review", "complete")
    finally:
        stop(worker)
    assert lost == ids + [new]
    assert "resumed 2 unfinished contract(s)" in (tmp_path / "worker.log").read_text()
