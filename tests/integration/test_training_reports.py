"""calibrate -> thresholds -> evaluate -> merge on real CUAD clauses, with the tiny Llama as the model."""
from __future__ import annotations

import json

import pytest

from app.classifier import clear_cache
from app.registry import Registry
from app.routing import Policy
from app.taxonomy import LABEL_IDS
from tests.tiny_versions import make_adapter_version
from training import calibrate, evaluate, merge, thresholds


@pytest.fixture(scope="module")
def version(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("reg")
    mp = pytest.MonkeyPatch()
    mp.setattr(evaluate, "LOGITS_CACHE", root / "logits")
    reg = Registry(root=root / "registry", default_dir=root / "default")
    mv = make_adapter_version(reg, tiny_model_dir, "v-tiny")
    yield reg, mv
    mp.undo()
    clear_cache()


def test_calibrate_writes_a_temperature_that_lowers_validation_nll(version):
    reg, mv = version
    r = calibrate.calibrate("v-tiny", registry=reg)
    saved = json.loads((mv.path / "calibration.json").read_text())
    assert saved["temperature"] == r["temperature"] > 0
    assert saved["validation"]["n"] > 100 and saved["test"]["n"] > 100
    assert saved["validation"]["nll_after"] <= saved["validation"]["nll_before"] + 1e-9
    assert (mv.path / "eval" / "reliability_validation.png").stat().st_size > 1000


def test_thresholds_write_a_valid_policy_for_every_label(version):
    reg, mv = version
    policy, stats, _ = thresholds.fit_thresholds("v-tiny", registry=reg, precision=0.98)
    reread = Policy.from_yaml(mv.path / "policy.yaml")
    assert reread == policy and set(reread.thresholds) == set(LABEL_IDS)
    assert reread.thresholds["uncapped"] >= thresholds.UNCAPPED_MIN
    for s in stats.values():  # where anything is accepted on validation, it meets the target
        assert s["precision"] is None or s["precision"] >= 0.98


def test_evaluate_writes_report_and_metrics_on_test_clauses_and_contracts(version, cuad_dir):
    reg, mv = version
    m = evaluate.evaluate("v-tiny", registry=reg, contracts=cuad_dir / "contracts_txt", limit=2, progress=False)
    saved = json.loads((mv.path / "eval" / "metrics.json").read_text())
    assert saved["clauses"]["n"] == m["clauses"]["n"] > 100
    assert 0 <= saved["clauses"]["ece"] <= 1 and saved["collateral"]["n"] > 100
    assert saved["contracts"]["n_contracts"] + len(saved["contracts"]["failed"]) == 2
    assert "auto_accept_rate" in saved["routing"]
    report = (mv.path / "eval" / "report.md").read_text()
    assert "false-positive `uncapped` rate" in report and "Cap On Liability" in report
    for png in ("confusion.png", "reliability.png"):
        assert (mv.path / "eval" / png).stat().st_size > 1000


def test_logits_are_reused_from_the_cache(version):
    from app.classifier import Classifier

    reg, _ = version
    clf = Classifier.load("v-tiny", registry=reg)
    rows = [{"id": "a", "text": "liability shall not exceed the fees paid", "heading": ""},
            {"id": "b", "text": "governing law", "heading": "12 MISCELLANEOUS"}]
    first = evaluate.version_logits(clf, rows)
    assert len(list(evaluate.LOGITS_CACHE.glob("*.npy"))) >= 1
    clf.model = None  # a second call must not touch the model
    assert (evaluate.version_logits(clf, rows) == first).all()


def test_merge_cli_golden_set_comes_from_real_test_clauses(version, capsys):
    reg, mv = version
    golden = merge.golden_texts(mv)
    assert len(golden) == merge.GOLDEN_SIZE
    target, check = merge.merge_version("v-tiny", registry=reg)
    assert check.n == merge.GOLDEN_SIZE and check.passed
    assert (target.path / "calibration.json").exists() and (target.path / "policy.yaml").exists()
