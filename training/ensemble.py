"""Add a lexical companion (app/lexical.py) to a model version, only if it wins on validation.

    python -m training.ensemble --model VERSION [--weights 0 0.25 0.5 1 2 4 8]

Fits TF-IDF + logistic regression on the version's own training split (the same records, headings
as the model reads them), then for each weight w scores validation segments with
model logits + w * lexical logits, calibrated (temperature and bias) on validation as deployment
would be. The weight with the best weighted validation macro-F1 is kept if it beats w = 0 (the
model alone), else the weight is 0; the lexical model is saved either way, since the first stage
(training/first_stage.py) reads it. Run training.calibrate, training.thresholds, training.first_stage
and training.evaluate_segments afterwards: they then see the ensemble, and evaluate_segments reports
the model alone beside it.
"""
from __future__ import annotations

import argparse
import shutil
import sys

import numpy as np

from app.registry import ModelVersionNotFound, Registry
from training.evaluate import EvaluationError, label_ids, segment_rows, version_dataset, version_logits, weights_of

DEFAULT_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def choose_weight(model_logits: np.ndarray, lexical_logits: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                  candidates=DEFAULT_WEIGHTS) -> dict[float, float]:
    """Weighted validation macro-F1 of the calibrated ensemble for each candidate weight."""
    from app.classifier import softmax
    from training.calibrate import fit
    from training.metrics import label_metrics

    scores = {}
    for w in candidates:
        z = model_logits + w * lexical_logits
        t, b = fit(z, labels, weights, bias=True)
        scores[float(w)] = label_metrics(labels, probs=softmax(z, t, b), weights=weights)["macro_f1"]
    return scores


def add_lexical(version: str | None = None, *, registry: Registry | None = None,
                candidates=DEFAULT_WEIGHTS) -> dict:
    from app.classifier import Classifier, clear_cache
    from app.encoding import model_text

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    ds, _ = version_dataset(mv)
    val = segment_rows(ds, "validation")
    if not val:
        raise EvaluationError(f"model version {mv.name!r} has no validation segments to choose a weight on")
    from app.lexical import LexicalModel

    lexical = LexicalModel.fit_records(ds["train"], clf.use_headings)
    clf.lexical, clf.lexical_weight = None, 0.0  # the model alone
    model_z = version_logits(clf, val)
    lex_z = lexical.logits([model_text(r["text"], r["heading"] if clf.use_headings else None) for r in val])
    scores = choose_weight(model_z, lex_z, label_ids(val), weights_of(val), candidates)
    best = max(scores, key=lambda w: (scores[w], -w))
    wins = best > 0 and scores[best] > scores.get(0.0, -1)
    # Saved either way: the first stage (training/first_stage.py) reads it even when its weight here is 0.
    shutil.rmtree(mv.path / "lexical", ignore_errors=True)
    lexical.save(mv.path / "lexical")
    mv.update_card(ensemble={"lexical_weight": best if wins else 0.0,
                             "validation_macro_f1_by_weight": {str(k): round(v, 4) for k, v in scores.items()},
                             "kept": wins, "lexical": "TF-IDF word 1-2 grams + balanced logistic regression, C=10"})
    clear_cache()
    return {"version": mv.name, "scores": scores, "weight": best, "kept": wins}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.ensemble", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--weights", type=float, nargs="+", default=list(DEFAULT_WEIGHTS),
                        help="candidate weights of the lexical logits (0 = the model alone)")
    args = parser.parse_args(argv)
    from app.classifier import ClassifierError

    try:
        r = add_lexical(args.model, candidates=args.weights)
    except (ModelVersionNotFound, ClassifierError, EvaluationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"model {r['version']}: validation macro-F1 by lexical weight: "
          + ", ".join(f"{w:g}: {s:.4f}" for w, s in r["scores"].items()))
    print(f"kept weight {r['weight']:g}" if r["kept"] else "the model alone wins on validation: no lexical companion")
    return 0


if __name__ == "__main__":
    sys.exit(main())
