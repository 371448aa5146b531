"""Reviewers' corrections made through the services flow into `python -m training.retrain` (tiny Llama).

One story, in order: a parent trained on the real clause files; retraining it on unchanged data is
promoted; a lawyer uploads two contracts (one of them a test contract of the parent's split),
reviewers correct clauses and disagree on one; --dry-run shows the plan; a deliberately worse
candidate is trained on the corrections, registered and not promoted; an admin rolls back.
"""
from __future__ import annotations

import json

import pytest
import yaml

from app import services
from app.classifier import clear_cache
from app.config import get_settings
from app.registry import Registry
from data.build import DataConfig
from training.config import TrainConfig
from training.corrections import contract_name
from training.retrain import collect_corrections, main, make_plan, parent_config
from training.train import train

pytestmark = pytest.mark.integration

ACME = """SUPPLY AGREEMENT

1. Supply. The Supplier shall supply the goods described in the order to the Customer each month.

2. Liability. The Customer's liability for breach of confidentiality shall be unlimited and shall not be subject to any limitation in this Agreement.

3. Cap. The aggregate liability of either party shall not exceed the fees paid in the twelve months before the claim, and no claim may be brought unless it exceeds $10,000.

4. Governing law. This Agreement is governed by the laws of the State of New York.
"""


def _small_shared(root, cuad_dir):
    """A shared folder holding the real clause files of 30 contracts (and some synthetic clauses).

    Training, calibration and evaluation all read the shared folder of the settings, so the whole
    retrain runs on this slice of real data in the time a test can take.
    """
    labeled = [json.loads(line) for line in (cuad_dir / "clauses_labeled.jsonl").open()]
    keep = set(list(dict.fromkeys(r["contract"] for r in labeled))[:30])
    others = [json.loads(line) for line in (cuad_dir / "clauses_other_categories.jsonl").open()]
    synthetic = [json.loads(line) for line in (cuad_dir.parent / "synthetic" / "clauses_synthetic.jsonl").open()]
    files = {"data/cuad/clauses_labeled.jsonl": [r for r in labeled if r["contract"] in keep],
             "data/cuad/clauses_other_categories.jsonl": [r for r in others if r["contract"] in keep],
             "data/synthetic/clauses_synthetic.jsonl": synthetic[::16]}
    for name, rows in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_model_dir, cuad_dir):
    """Settings pointing at a fresh registry and database, and a parent version trained on real data."""
    tmp = tmp_path_factory.mktemp("retrain")
    mp = pytest.MonkeyPatch()
    mp.setenv("LEXDORA_SHARED_DIR", str(_small_shared(tmp / "shared", cuad_dir)))
    mp.setenv("LEXDORA_REGISTRY_DIR", str(tmp / "registry"))
    mp.setenv("LEXDORA_DEFAULT_MODEL_DIR", str(tmp / "no-default"))
    mp.setenv("LEXDORA_DATABASE_URL", f"sqlite:///{tmp / 'lexdora.db'}")
    mp.setenv("LEXDORA_UPLOAD_DIR", str(tmp / "uploads"))
    mp.setenv("LEXDORA_DEVICE", "cpu")
    # A 30-contract slice has fewer test clauses than the gate needs to decide on real data; this test
    # checks the flow (the gate's own rules are tests/unit/test_retrain_gate.py).
    mp.setattr("training.retrain.MIN_GATE_CLAUSES", 1)
    get_settings.cache_clear()
    config = TrainConfig(base_model=str(tiny_model_dir), method="dora", r=4, alpha=8, learning_rate=5e-3,
                         max_steps=20, batch_size=16, eval_batch_size=64, max_length=64, logging_steps=10,
                         data=DataConfig(none_ratio=0.5, val_fraction=0.2, test_fraction=0.2))
    registry = Registry()
    parent = train(config, run_dir=tmp / "run-parent", registry=registry, log=lambda *_: None).version
    registry.activate(parent.name)
    yield {"tmp": tmp, "registry": registry, "parent": parent, "config": config}
    mp.undo()
    get_settings.cache_clear()
    clear_cache()


def _new_versions(registry, known):
    return [v.name for v in registry.list() if v.name not in known]


def test_corrections_flow_into_retraining_and_a_worse_candidate_is_not_promoted(world, capsys, cuad_dir):
    registry, parent, tmp = world["registry"], world["parent"], world["tmp"]

    # 1. Retraining on unchanged data reproduces the parent's data and quality: promoted.
    assert main(["--run-dir", str(tmp / "run-same")]) == 0
    (same,) = _new_versions(registry, {parent.name})
    card = registry.get(same).card
    assert card["parent"] == parent.name and card["data_hash"] == parent.card["data_hash"]
    assert card["n_corrections"] == 0 and card["promotion"]["promoted"] is True
    assert registry.active_name() == same
    active = registry.get(same)

    # 2. A lawyer uploads a new contract and a test contract of the split; reviewers correct clauses.
    lawyer = services.register_user("lena", "a-long-password", "lawyer")
    rita = services.register_user("rita", "a-long-password", "reviewer")
    sam = services.register_user("sam", "a-long-password", "reviewer")
    admin = services.register_user("ada", "a-long-password", "admin")
    split = json.loads((active.path / "split.json").read_text())
    test_contract = next(c for c, s in sorted(split.items())
                         if s == "test" and (cuad_dir / "contracts_txt" / f"{c}.txt").exists())
    acme = services.upload_contract(lawyer.id, "Acme Supply.txt", ACME.encode())
    held = services.upload_contract(lawyer.id, f"{test_contract}.txt",
                                    (cuad_dir / "contracts_txt" / f"{test_contract}.txt").read_bytes())
    acme_clauses = {c.number: c for c in services.get_contract(lawyer.id, acme.contract_id).clauses}
    unlimited, cap = acme_clauses["2"], acme_clauses["3"]
    def review(who, clause_id, label):  # a review needs the clause's claim
        services.claim_clause(who.id, clause_id)
        services.submit_review(who.id, clause_id, label)

    review(rita, unlimited.id, "carve_out")
    review(sam, unlimited.id, "uncapped")  # the latest review wins; a disagreement
    review(rita, cap.id, "cap_and_collar")
    test_clause = services.get_contract(lawyer.id, held.contract_id).clauses[3]
    review(rita, test_clause.id, "carve_out")

    # 3. --dry-run shows the plan and trains nothing.
    capsys.readouterr()
    assert main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "3 reviewed clauses: 2 go to training" in out and "1 held back" in out
    assert f"reviewers disagree on clause {unlimited.id} of Acme Supply.txt (rita: carve_out, sam: uncapped)" in out
    assert _new_versions(registry, {parent.name, same}) == []

    # 4. A deliberately worse candidate (no learning) on those corrections: registered, not promoted.
    worse_config = tmp / "worse.yaml"
    worse_config.write_text(yaml.safe_dump(world["config"].model_dump(mode="json")
                                           | {"learning_rate": 1e-9, "max_steps": 2}))
    assert main(["--config", str(worse_config), "--run-dir", str(tmp / "run-worse")]) == 0
    (worse,) = _new_versions(registry, {parent.name, same})
    card = registry.get(worse).card
    assert card["parent"] == same and card["n_corrections"] == 2
    assert card["promotion"]["promoted"] is False and card["promotion"]["reason"].startswith("not promoted")
    assert registry.active_name() == same
    side = card["retrain"]["side_by_side"]
    assert side[worse]["test"]["n"] == side[same]["test"]["n"] > 0  # the same fixed test clauses
    assert side[worse]["held_back_corrections"]["n"] == 1

    # The candidate's training data holds the reviewers' labels, and not the test contract's clause.
    config = parent_config(active, worse_config)
    plan = make_plan(collect_corrections(), active, config)
    ds, info = plan.dataset
    assert info.data_hash == card["data_hash"] != active.card["data_hash"]
    train_labels = {text: label for text, label in zip(ds["train"]["text"], ds["train"]["label"])}
    assert train_labels[" ".join(unlimited.text.split())] == "uncapped"
    assert train_labels[" ".join(cap.text.split())] == "cap_and_collar"
    assert " ".join(test_clause.text.split()) not in train_labels
    assert contract_name(f"{test_contract}.txt") not in set(ds["train"]["contract"])
    used = [json.loads(line) for line in (registry.get(worse).path / "corrections.jsonl").open()]
    assert sorted(r["used_for"] for r in used) == ["held_back", "train", "train"]

    # 5. The dashboard's services list the versions; an admin can activate the candidate and roll back.
    listed = {v.name: v.active for v in services.list_model_versions(admin.id)}
    assert listed == {parent.name: False, same: True, worse: False}
    services.activate_model_version(admin.id, worse)
    assert registry.active_name() == worse
    services.activate_model_version(admin.id, same)
    assert registry.active_name() == same
