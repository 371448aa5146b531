"""training.active_learning on a tiny synthetic validation set: the replay, the three orders, the report."""
from __future__ import annotations

import numpy as np

from app.routing import Policy
from app.scoring import ContractRule, QuestionRule
from app.taxonomy import LABEL_IDS
from training import active_learning

POLICY = Policy(floor=0.6, near_miss_margin=0.15, thresholds={"uncapped": 0.95})
RULE = ContractRule(cap=QuestionRule(method="max_prob", threshold=0.5),
                    uncapped=QuestionRule(method="max_prob", threshold=0.5))


def _p(**given) -> list[float]:
    rest = [label for label in LABEL_IDS if label not in given]
    left = 1.0 - sum(given.values())
    return [given.get(label, left / len(rest)) for label in LABEL_IDS]


def fixture():
    """Four contracts; the model misses contract c1's cap and c2's uncapped clause; c3 and c4 are right."""
    rows, probs = [], []

    def add(contract, label, p, text="Liability shall not exceed the fees."):
        rows.append({"id": f"{contract}-{len(rows)}", "contract": contract, "text": text, "label": label})
        probs.append(p)

    add("c1", "capped", _p(none=0.52, capped=0.40))                     # missed cap: uncertain
    add("c1", "none", _p(none=0.55, exclusion=0.30))                    # uncertain, decides nothing of worth
    add("c1", "none", _p(none=0.50, indemnity=0.45), text="EXHIBIT A")  # a bare heading
    add("c2", "uncapped", _p(carve_out=0.35, none=0.45))                # missed uncapped
    add("c2", "capped", _p(capped=0.97))
    add("c3", "capped", _p(capped=0.96))
    add("c4", "none", _p(none=0.58, exclusion=0.25))
    add("c4", "none", _p(none=0.59, indemnity=0.3))
    truth = {"c1": {"cuad_cap": "Yes", "cuad_uncapped": "No"}, "c2": {"cuad_cap": "Yes", "cuad_uncapped": "Yes"},
             "c3": {"cuad_cap": "Yes", "cuad_uncapped": "No"}, "c4": {"cuad_cap": "No", "cuad_uncapped": "No"}}
    return rows, np.array(probs), truth


def test_reviewing_everything_reaches_the_gold_answers():
    rows, probs, truth = fixture()
    n_queue = sum(POLICY.decide(dict(zip(LABEL_IDS, p))).action == "review" for p in probs)
    for order in ("value", "current", "random"):
        res = active_learning.replay(rows, probs, truth, RULE, POLICY, ks=[0, n_queue], order=order)
        assert res[-1]["mean"] == 1.0 and res[0]["mean"] < 1.0


def test_the_value_order_fixes_the_contract_answers_first():
    rows, probs, truth = fixture()
    value = active_learning.replay(rows, probs, truth, RULE, POLICY, ks=[2], order="value")[0]["mean"]
    current = active_learning.replay(rows, probs, truth, RULE, POLICY, ks=[2], order="current")[0]["mean"]
    assert value == 1.0 and value >= current


def test_run_writes_the_plot_and_the_report(tmp_path):
    rows, probs, truth = fixture()
    results = active_learning.run(rows, probs, truth, RULE, POLICY, version="tiny", source="segments",
                                  out_dir=tmp_path, points=4, seeds=2)
    assert [c.name.split(" ")[0] for c in results] == ["expected", "near", "random"]
    assert (tmp_path / "active-learning.png").stat().st_size > 1000
    text = (tmp_path / "active-learning.md").read_text()
    assert "| expected value (new queue) |" in text and "4 contracts" in text


def test_main_takes_its_inputs_from_the_loader(tmp_path, capsys):
    rows, probs, truth = fixture()
    loader = lambda version: (rows, probs, truth, RULE, POLICY, version or "active", "segments")  # noqa: E731
    assert active_learning.main(["--out", str(tmp_path), "--points", "3", "--seeds", "1"], loader=loader) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "active-learning.md").exists()
