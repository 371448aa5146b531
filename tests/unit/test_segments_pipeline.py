"""The pieces that make training and judging follow contracts as they are: encoding, segment sampling
and weights, weighted ECE, calibration with a prior shift, the contract rule and weighted thresholds."""
from __future__ import annotations

import json

import numpy as np
import pytest

from app.encoding import encode, head_and_tail, model_text
from app.taxonomy import LABEL2ID, LABEL_IDS
from data.build import SEGMENT, DataConfig, build_dataset
from training.calibrate import fit, nll
from training.evaluate import expected_calibration_error, weighted_ece
from training.thresholds import best_f1_threshold, contract_probabilities, pick_threshold


def test_head_and_tail_keeps_the_closing_exception():
    ids = list(range(300))
    cut = head_and_tail(ids, 192, 64)
    assert len(cut) == 192
    assert cut[:128] == ids[:128] and cut[-64:] == ids[-64:]
    assert head_and_tail(ids[:192], 192, 64) == ids[:192]  # short enough: untouched
    assert head_and_tail(ids, 10, 0) == ids[:10]


def test_heading_goes_first_and_only_when_asked():
    class Tok:  # one id per character: enough to see what is encoded
        def __call__(self, texts, add_special_tokens=True):
            return {"input_ids": [[ord(ch) for ch in t] for t in texts]}

    assert model_text("Liability is capped.", "12 LIMITATION") == "12 LIMITATION\nLiability is capped."
    assert model_text("Liability is capped.", "  ") == "Liability is capped."
    ids = encode(Tok(), ["abc"], ["H"], max_length=10)
    assert ids == [[ord("H"), ord("\n"), ord("a"), ord("b"), ord("c")]]
    with pytest.raises(ValueError, match="1 texts but 2 headings"):
        encode(Tok(), ["abc"], ["H", "I"], max_length=10)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def segment_config(tmp_path) -> DataConfig:
    rows = []
    for c in range(40):
        for k in range(30):
            label = "capped" if k == 0 else ("indemnity" if k == 1 and c % 2 else "none")
            rows.append({"id": f"S{c}-{k}", "contract": f"contract-{c}", "heading": f"{k} HEADING", "text": f"t {c} {k}",
                         "label": label, "label_source": "annotated" if label != "none" or k < 4 else "auto_none",
                         "confidence": "high"})
    empty = _write(tmp_path / "empty.jsonl", [])
    return DataConfig(segments_path=_write(tmp_path / "segments.jsonl", rows), labeled_path=empty, other_path=empty,
                      synthetic_path=None, auto_none_pool=50, eval_auto_none_fraction=0.25, seed=1)


def test_segments_keep_every_read_one_sample_unread_ones_and_weigh_the_sample(segment_config):
    ds, info = build_dataset(segment_config)
    train = [r for r in ds["train"] if r["source"] == SEGMENT]
    assert sum(r["kind"] == "auto_none" for r in train) == 50  # the pool
    read_train = [r for r in train if r["kind"] != "auto_none"]
    n_train_contracts = sum(s == "train" for s in info.split_by_contract.values())
    assert len(read_train) == 4 * n_train_contracts  # every read segment of every training contract
    for split in ("validation", "test"):
        unread = [r for r in ds[split] if r["kind"] == "auto_none"]
        assert unread and all(r["weight"] == 4.0 for r in unread)
        assert all(r["weight"] == 1.0 for r in ds[split] if r["kind"] != "auto_none")
        # a sample: about a quarter of 26 unread segments per contract
        n_contracts = sum(s == split for s in info.split_by_contract.values())
        assert 0.1 < len(unread) / (26 * n_contracts) < 0.45
    assert ds["train"][0]["heading"].endswith("HEADING")
    # contracts never straddle splits
    seen = {}
    for split in ("train", "validation", "test"):
        for r in ds[split]:
            assert seen.setdefault(r["contract"], split) == split


def test_weighted_ece_equals_torchmetrics_with_unit_weights_and_repetition_with_integer_ones():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(7) * 0.3, size=400)
    y = rng.integers(0, 7, 400)
    assert weighted_ece(p, y) == pytest.approx(expected_calibration_error(p, y), abs=1e-6)
    w = rng.integers(1, 5, 400)
    rep = np.repeat(np.arange(400), w)
    assert weighted_ece(p, y, w) == pytest.approx(expected_calibration_error(p[rep], y[rep]), abs=1e-6)


def test_calibration_bias_recovers_a_shifted_prior():
    # logits of a model trained on balanced data; truth drawn with a strong prior on `none`
    rng = np.random.default_rng(3)
    n = 4000
    y = np.where(rng.random(n) < 0.9, LABEL2ID["none"], rng.integers(0, 6, n))
    logits = rng.normal(0, 1, (n, 7))
    logits[np.arange(n), y] += 2.0
    prior_shift = np.log(np.bincount(y, minlength=7) / n) - np.log(np.full(7, 1 / 7))
    t, b = fit(logits, y, bias=True)
    t0, _ = fit(logits, y)
    assert nll(logits, y, t, b) < nll(logits, y, t0) - 0.05
    # the fitted bias moves `none` up against the others, as the prior says
    assert b[LABEL2ID["none"]] - b.mean() > 0.5 * (prior_shift[LABEL2ID["none"]] - prior_shift.mean())


def test_contract_probability_is_the_best_clause_and_the_threshold_maximises_f1():
    rows = [{"contract": "a"}, {"contract": "a"}, {"contract": "b"}]
    probs = np.zeros((3, 7))
    probs[0, LABEL2ID["none"]] = 1.0
    probs[1, LABEL2ID["capped"]], probs[1, LABEL2ID["carve_out"]], probs[1, LABEL2ID["none"]] = 0.5, 0.3, 0.2
    probs[2, LABEL2ID["exclusion"]], probs[2, LABEL2ID["none"]] = 0.1, 0.9
    per = contract_probabilities(probs, rows)
    assert per["a"]["cap"] == pytest.approx(0.8) and per["a"]["uncapped"] == pytest.approx(0.3)
    assert per["b"]["cap"] == pytest.approx(0.1)
    t, f1 = best_f1_threshold(np.array([0.1, 0.2, 0.7, 0.9]), np.array([False, False, True, True]))
    assert 0.2 < t <= 0.7 and f1 == 1.0


def test_weighted_threshold_counts_each_clause_for_what_it_stands_for():
    conf = np.array([0.99, 0.95, 0.9, 0.8])
    correct = np.array([True, True, False, True])
    # unweighted: 3 of 4 right at 0.8 (0.75), 2 of 3 at 0.9 -> only 0.95 reaches 0.9 precision
    assert pick_threshold(conf, correct, 0.9, 1) == 0.95
    # the wrong clause stood for 0.1 of a clause (a sampled-away share): 0.8 reaches precision 0.97
    assert pick_threshold(conf, correct, 0.9, 1, weights=np.array([1, 1, 0.1, 1])) == 0.8


def test_lexical_companion_round_trips_without_pickle(tmp_path):
    from app.lexical import LexicalModel

    texts = ["liability shall not exceed the fees paid", "in no event liable for consequential damages",
             "shall indemnify defend and hold harmless", "this agreement is governed by the laws of"] * 5
    labels = [LABEL2ID[x] for x in ("capped", "exclusion", "indemnity", "none")] * 5
    model = LexicalModel.fit(texts, labels, min_df=1)
    model.save(tmp_path / "lexical")
    assert {p.name for p in (tmp_path / "lexical").iterdir()} == {"vocabulary.json", "weights.npz"}
    again = LexicalModel.load(tmp_path / "lexical")
    np.testing.assert_allclose(again.logits(texts[:4]), model.logits(texts[:4]))
    assert [LABEL_IDS[i] for i in again.logits(texts[:4]).argmax(axis=1)] == ["capped", "exclusion", "indemnity", "none"]
    # labels absent from training are never predicted
    assert (again.logits(texts[:4])[:, LABEL2ID["uncapped"]] < -10).all()


def test_the_ensemble_weight_is_chosen_on_validation_and_zero_when_the_companion_only_adds_noise():
    from training.ensemble import choose_weight

    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 600)
    good = rng.normal(0, 1, (600, 7))
    good[np.arange(600), y] += 3.0
    noise = rng.normal(0, 3, (600, 7))
    scores = choose_weight(good, noise, y, np.ones(600), candidates=(0.0, 1.0))
    assert scores[0.0] > scores[1.0]
    weak = rng.normal(0, 1, (600, 7))
    weak[np.arange(600), y] += 0.5
    scores = choose_weight(weak, good, y, np.ones(600), candidates=(0.0, 1.0))
    assert scores[1.0] > scores[0.0]


def test_a_rebuild_with_the_saved_split_is_the_same_dataset(segment_config, tmp_path):
    # Contracts whose segments are all unread and sampled away must still be in the saved split, or a
    # rebuild (evaluation, retraining) would put them in train and draw another sample.
    rows = [json.loads(x) for x in segment_config.segments_path.read_text().splitlines()]
    rows += [{"id": f"U{c}-{k}", "contract": f"quiet-{c}", "heading": "", "text": f"u {c} {k}", "label": "none",
              "label_source": "auto_none", "confidence": "high"} for c in range(30) for k in range(2)]
    config = segment_config.model_copy(update={"segments_path": _write(tmp_path / "more.jsonl", rows),
                                                "eval_auto_none_fraction": 0.05, "auto_none_pool": 5})
    ds, info = build_dataset(config)
    assert any(c.startswith("quiet-") and s != "train" for c, s in info.split_by_contract.items())
    again, info2 = build_dataset(config, fixed_split=info.split_by_contract)
    assert info2.data_hash == info.data_hash
    assert list(again["validation"]["id"]) == list(ds["validation"]["id"])
