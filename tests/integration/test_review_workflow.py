"""Services end to end on a SQLite file: real ingestion of the sample contracts, Alembic on first use,
reviewers working at once, and the real Classifier (a tiny registered version) behind the default scorer."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from app import services
from app.config import get_settings
from app.registry import Registry
from tests.fakes import FakeScorer, UncertainScorer
from tests.review_race import drain_queue_concurrently

ROOT = Path(__file__).resolve().parents[2]
PDF = ROOT / "samples" / "corio-license-and-hosting.pdf"
TXT = ROOT / "samples" / "paxmedica-master-service-agreement.txt"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Settings pointing at a fresh database, upload folder and registry under tmp_path."""
    monkeypatch.setenv("LEXDORA_DATABASE_URL", f"sqlite:///{tmp_path / 'lexdora.db'}")
    monkeypatch.setenv("LEXDORA_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("LEXDORA_REGISTRY_DIR", str(tmp_path / "registry"))
    monkeypatch.setenv("LEXDORA_DEFAULT_MODEL_DIR", str(tmp_path / "no-default"))
    monkeypatch.setattr(services.users, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def people(env):
    admin = services.register_user("ann", "admin-pass", "admin")

    def make(name: str, role: str):
        return services.register_user(name, f"{name}-pass", role, actor_id=admin.id)

    return {"admin": admin, "lawyer": make("lee", "lawyer"),
            "reviewers": [make(f"rev{i}", "reviewer") for i in range(4)]}


def test_upload_a_cuad_pdf_review_it_and_export_the_correction(people, env):
    lawyer, reviewer = people["lawyer"], people["reviewers"][0]
    summary = services.upload_contract(lawyer.id, PDF.name, PDF.read_bytes(), scorer_factory=FakeScorer)
    assert summary.n_clauses > 50 and not summary.duplicate
    assert (env.upload_dir / summary.sha256[:2] / summary.sha256).read_bytes() == PDF.read_bytes()

    detail = services.get_contract(lawyer.id, summary.contract_id)
    assert [c.index for c in detail.clauses] == list(range(summary.n_clauses))
    assert max(c.page for c in detail.clauses) > 1

    task = services.claim_next_review(reviewer.id)
    services.submit_review(reviewer.id, task.clause.id, "carve_out", "names the excepted claims")
    rows = list(csv.DictReader(io.StringIO(services.export_labels(lawyer.id, "csv").decode("utf-8-sig"))))
    corrected = next(r for r in rows if r["clause_id"] == str(task.clause.id))
    assert (corrected["label"], corrected["reviewed_by"], corrected["comment"]) == \
        ("carve_out", "rev0", "names the excepted claims")

    again = services.upload_contract(lawyer.id, "renamed.pdf", PDF.read_bytes(), scorer_factory=FakeScorer)
    assert again.duplicate and again.contract_id == summary.contract_id


def test_a_bad_file_is_refused_with_its_name_and_leaves_nothing(people):
    with pytest.raises(services.InvalidFile, match=r"^broken\.pdf: "):
        services.upload_contract(people["lawyer"].id, "broken.pdf", b"%PDF-1.7 not really", scorer_factory=FakeScorer)
    assert services.list_contracts(people["lawyer"].id) == []


def test_reviewers_working_at_once_never_get_the_same_clause(people):
    services.upload_contract(people["lawyer"].id, TXT.name, TXT.read_bytes(), scorer_factory=UncertainScorer)
    queued = services.dashboard_stats(people["admin"].id).n_needs_review
    assert queued >= 40
    served = drain_queue_concurrently([r.id for r in people["reviewers"]], label=lambda task: task.clause.model_label,
                                      hold_together=True)
    all_served = [cid for ids in served.values() for cid in ids]
    assert len(all_served) == len(set(all_served)) == queued
    assert sum(1 for ids in served.values() if ids) > 1  # the work really was shared
    assert services.dashboard_stats(people["admin"].id).n_needs_review == 0


def test_default_scorer_loads_the_active_registered_classifier(people, env, tiny_model_dir):
    from tests.tiny_versions import make_adapter_version

    registry = Registry()
    make_adapter_version(registry, tiny_model_dir, "v-tiny")
    services.activate_model_version(people["admin"].id, "v-tiny")
    summary = services.upload_contract(people["lawyer"].id, TXT.name, TXT.read_bytes())
    assert summary.model_version == "v-tiny"
    clauses = services.get_contract(people["lawyer"].id, summary.contract_id).clauses
    assert all(abs(sum(c.probs.values()) - 1) < 1e-4 for c in clauses)
    assert {c.model_version for c in clauses} == {"v-tiny"}
