"""Evaluate a model version on real held-out CUAD clauses (and, optionally, whole contracts).

    python -m training.evaluate --model VERSION [--contracts DIR [--limit N]]

Writes eval/report.md, eval/metrics.json, eval/confusion.png and eval/reliability.png
into the version's folder. Metrics come from scikit-learn and torchmetrics.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from app.config import ROOT, get_settings
from app.registry import ModelVersion, ModelVersionNotFound, Registry
from app.taxonomy import LABEL2ID, LABEL_IDS, has_cap, has_uncapped
from training.metrics import ECE_BINS, expected_calibration_error, label_metrics, weighted_ece

REAL_SOURCE = "cuad"
LOGITS_CACHE = ROOT / "runs" / "logits"


class EvaluationError(RuntimeError):
    """Evaluation cannot run (no data, no test split, unreadable contracts folder)."""


# ---------------------------------------------------------------- data of a version

def version_data_config(mv: ModelVersion):
    """The data config the version was trained with. Sources are recorded by their place in the shared
    folder (DataConfig.to_card), so the shared folder of this machine is read; a source switched off
    (null) stays off."""
    from data.build import DataConfig

    return DataConfig(**(((mv.card.get("train_config") or {}).get("data")) or {}))


def version_dataset(mv: ModelVersion):
    """(DatasetDict, DatasetInfo) rebuilt as the version was trained: its data config and its split.json."""
    from data.build import build_dataset, load_fixed_split

    split_file = mv.path / "split.json"
    fixed = load_fixed_split(split_file) if split_file.exists() else None
    return build_dataset(version_data_config(mv), fixed_split=fixed)


def real_rows(ds, split: str) -> list[dict]:
    """Real (CUAD) clauses of one split, as dicts, sorted by id."""
    rows = [r for r in ds[split] if r["source"] == REAL_SOURCE]
    if not rows:
        raise EvaluationError(f"the {split} split holds no real clauses")
    return sorted(rows, key=lambda r: r["id"])


def segment_rows(ds, split: str) -> list[dict]:
    """Segments of one split's contracts as the product cuts them (each with its sampling weight), by id;
    empty for a version trained without the segment file."""
    from data.build import SEGMENT

    return sorted((r for r in ds[split] if r["source"] == SEGMENT), key=lambda r: r["id"])


def weights_of(rows: list[dict]) -> np.ndarray:
    return np.array([float(r.get("weight") or 1.0) for r in rows])


def label_ids(rows: list[dict]) -> np.ndarray:
    return np.array([LABEL2ID[r["label"]] for r in rows], dtype=np.int64)


def cuad_contract_answers() -> dict[str, dict]:
    """CUAD's contract-level answers ("Cap On Liability", "Uncapped Liability") by contract name."""
    from data.build import cuad_answers

    return cuad_answers(missing_ok=False)


def contracts_in(info, split: str) -> set[str]:
    return {c for c, s in info.split_by_contract.items() if s == split}


def other_category_rows(contracts: set[str], limit: int | None = None) -> list[dict]:
    """CUAD other-category clauses (label none) of these contracts; a seeded sample of `limit` if given."""
    import random

    path = Path(get_settings().shared_dir) / "data" / "cuad" / "clauses_other_categories.jsonl"
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = sorted((r for r in rows if r["contract"] in contracts), key=lambda r: r["id"])
    if limit is not None and len(rows) > limit:
        rows = sorted(random.Random(0).sample(rows, limit), key=lambda r: r["id"])
    return rows


def saved_logits(mv: ModelVersion, rows: list[dict]) -> np.ndarray | None:
    """Logits of `rows` from the version's logits.npz (written by training with the same weights), or
    None when the file is missing or lacks one of the rows."""
    path = mv.path / "logits.npz"
    if not path.exists() or (mv.path / "adapter").exists() and path.stat().st_mtime < max(
            f.stat().st_mtime for f in (mv.path / "adapter").iterdir()):
        return None
    saved = np.load(path)
    index = {}
    for key in saved.files:
        if key.endswith("_ids"):
            index.update({i: (key[:-4], n) for n, i in enumerate(saved[key].tolist())})
    if not rows or any(r["id"] not in index for r in rows):
        return None
    return np.stack([saved[f"{index[r['id']][0]}_logits"][index[r["id"]][1]] for r in rows])


def version_logits(clf, rows: list[dict]) -> np.ndarray:
    """Raw logits of dataset rows (text and heading): from the version's saved logits when it has them,
    else computed and kept under runs/logits, since calibrate, thresholds and evaluate score the same
    validation and test clauses, which on a shared CPU costs minutes each time."""
    import hashlib

    from app.classifier import weights_stamp

    texts = [r["text"] for r in rows]
    headings = [r.get("heading") or "" for r in rows]
    if (saved := saved_logits(clf.version, rows)) is not None:
        return saved + clf.lexical_logits(texts, headings)
    key = hashlib.sha256(json.dumps([str(clf.version.path.resolve()), weights_stamp(clf.version), clf.max_length,
                                     clf.tail_tokens, clf.use_headings, texts, headings]).encode()).hexdigest()[:32]
    path = LOGITS_CACHE / f"{key}.npy"
    if path.exists():
        logits = np.load(path)
    else:
        logits = clf.model_logits(texts, headings)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, logits)
    return logits + clf.lexical_logits(texts, headings)


# ---------------------------------------------------------------- metrics

def ece_noise_floor(probs: np.ndarray, draws: int = 200, seed: int = 0) -> float:
    """Median ECE of a model calibrated by construction (labels drawn from `probs`) at this sample size:
    below it, a measured ECE cannot tell a calibrated model from a miscalibrated one."""
    rng = np.random.default_rng(seed)
    cum = probs.cumsum(axis=1)
    eces = [expected_calibration_error(probs, (rng.random((len(probs), 1)) > cum).sum(axis=1).clip(max=probs.shape[1] - 1))
            for _ in range(draws)]
    return float(np.median(eces))


def routing_metrics(probs: np.ndarray, labels: np.ndarray, policy) -> dict:
    """Share of clauses the policy auto-accepts and the accuracy of those it accepts."""
    from app.scoring import decisions as decide

    decisions = decide(probs, policy)
    accepted = np.array([d.action == "auto_accept" for d in decisions])
    correct = probs.argmax(axis=1) == labels
    by_rule: dict[str, int] = {}
    for d in decisions:
        by_rule[d.rule] = by_rule.get(d.rule, 0) + 1
    return {"auto_accept_rate": float(accepted.mean()), "auto_accepted": int(accepted.sum()),
            "auto_accept_precision": float(correct[accepted].mean()) if accepted.any() else None,
            "by_rule": by_rule, "policy_source": policy.source}


def contract_metrics(predicted: dict[str, set[str]], truth: dict[str, dict]) -> dict:
    """Per CUAD question: P/R/F1 of the contract-level answer implied by the predicted clause labels."""
    return answer_metrics({c: {"cuad_cap": has_cap(labels), "cuad_uncapped": has_uncapped(labels)}
                           for c, labels in predicted.items()}, truth)


def answer_metrics(answers: dict[str, dict[str, bool]], truth: dict[str, dict]) -> dict:
    """Per CUAD question ("cuad_cap", "cuad_uncapped"): P/R/F1 of contract answers against CUAD's."""
    from sklearn.metrics import precision_recall_fscore_support

    out = {"n_contracts": len(answers)}
    names = sorted(answers)
    for key in ("cuad_cap", "cuad_uncapped"):
        y_true = [truth[c][key] == "Yes" for c in names]
        y_pred = [bool(answers[c][key]) for c in names]
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
        out[key] = {"precision": float(p), "recall": float(r), "f1": float(f), "positives": int(sum(y_true)),
                    "predicted_positive": int(sum(y_pred))}
    return out


# ---------------------------------------------------------------- plots

def reliability_diagram(path: Path, labels: np.ndarray, curves: dict[str, np.ndarray],
                        weights: np.ndarray | None = None) -> Path:
    """Accuracy against top-label confidence in 15 equal-width bins, one line per named set of probabilities."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.linspace(0, 1, ECE_BINS + 1)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect calibration")
    for name, probs in curves.items():
        conf, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
        bins = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, ECE_BINS - 1)
        xs, ys, ns = [], [], []
        for b in range(ECE_BINS):
            m = bins == b
            if m.any():
                xs.append(conf[m].mean())
                ys.append(correct[m].mean())
                ns.append(m.sum())
        ece = weighted_ece(probs, labels, weights)
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set(xlabel="confidence (top label)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
           title=f"Reliability, {len(labels)} real clauses")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def confusion_png(path: Path, confusion: list[list[int]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay(np.array(confusion), display_labels=list(LABEL_IDS)).plot(
        ax=ax, xticks_rotation=45, colorbar=False, cmap="Blues")
    ax.set(xlabel="predicted", ylabel="true")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- contracts

def classify_contracts(clf, folder: Path, names: list[str], progress: bool = True) -> tuple[dict, list[str]]:
    """contract -> set of predicted labels over its ingested clauses; and the contracts that failed ingestion."""
    from tqdm import tqdm

    from app.ingest import IngestError, ingest_path

    predicted, failed = {}, []
    for name in tqdm(names, unit="contract", disable=not progress):
        path = next((p for p in (folder / f"{name}{ext}" for ext in (".txt", ".pdf")) if p.exists()), None)
        try:
            if path is None:
                raise IngestError(f"no .txt or .pdf for {name} in {folder}")
            _, clauses = ingest_path(path)
        except IngestError as e:
            failed.append(f"{name}: {e}")
            continue
        texts = [c.text for c in clauses if c.text.strip()]
        predicted[name] = {LABEL_IDS[i] for i in clf.predict_proba(texts).argmax(axis=1)} if texts else set()
    return predicted, failed


# ---------------------------------------------------------------- report

def fmt(x: float | None) -> str:
    """A metric to three decimals; n/a where it is undefined."""
    return "n/a" if x is None else f"{x:.3f}"


def markdown_report(m: dict) -> str:
    c = m["clauses"]
    lines = [f"# Evaluation of model version `{m['version']}`", "",
             f"{m['created']}; test split: {c['n']} real CUAD clauses from {m['n_test_contracts']} contracts "
             f"held out by contract (no synthetic clauses); temperature {m['temperature']:.3f}.", "",
             "| metric | value |", "|---|---|",
             f"| accuracy | {fmt(c['accuracy'])} |",
             f"| macro-F1 (labels present: {', '.join(c['macro_f1_labels'])}) | {fmt(c['macro_f1'])} |",
             f"| ECE, 15 bins, top label (calibrated) | {fmt(c['ece'])} |",
             f"| ECE before calibration (T = 1) | {fmt(m['ece_uncalibrated'])} |",
             f"| ECE of a perfectly calibrated model at this n (median of 200 draws) | {fmt(m['ece_noise_floor'])} |",
             f"| false-positive `uncapped` rate | {fmt(c['fp_uncapped_rate'])} ({c['fp_uncapped']} clauses) |",
             f"| other-category clauses still `none` | {fmt(m['collateral']['none_rate'])} "
             f"({m['collateral']['n']} clauses{', seeded sample' if m['collateral']['sampled'] else ''}) |",
             f"| auto-accept rate | {fmt(m['routing']['auto_accept_rate'])} |",
             f"| precision of auto-accepted | {fmt(m['routing']['auto_accept_precision'])} |",
             "", f"Routing policy: {m['routing']['policy_source']}; decisions by rule: {m['routing']['by_rule']}.",
             "", "## Per label", "", "| label | precision | recall | F1 | support | predicted |",
             "|---|---|---|---|---|---|"]
    for label, s in c["per_label"].items():
        lines.append(f"| {label} | {fmt(s['precision'])} | {fmt(s['recall'])} | {fmt(s['f1'])} | {s['support']} | "
                     f"{s['predicted']} |")
    lines += ["", "## Confusion matrix (rows true, columns predicted)", "", "![confusion](confusion.png)", "",
              "| true \\ pred | " + " | ".join(LABEL_IDS) + " |", "|---|" + "---|" * len(LABEL_IDS)]
    for label, row in zip(LABEL_IDS, c["confusion"]):
        lines.append(f"| {label} | " + " | ".join(map(str, row)) + " |")
    lines += ["", "## Calibration", "", "![reliability](reliability.png)", ""]
    if "contracts" in m:
        k = m["contracts"]
        lines += ["## Whole contracts", "",
                  f"{k['n_contracts']} held-out contracts from `{k['folder']}` ingested and classified; a contract "
                  "answers a CUAD question Yes when any clause gets a label of app.taxonomy.CUAD_MAPPING.", "",
                  "| CUAD question | precision | recall | F1 | positives | predicted positive |", "|---|---|---|---|---|---|"]
        for key, title in (("cuad_cap", "Cap On Liability"), ("cuad_uncapped", "Uncapped Liability")):
            s = k[key]
            lines.append(f"| {title} | {fmt(s['precision'])} | {fmt(s['recall'])} | {fmt(s['f1'])} | {s['positives']} | "
                         f"{s['predicted_positive']} |")
        if k["failed"]:
            lines += ["", f"Not ingested ({len(k['failed'])}): " + "; ".join(k["failed"])]
        lines.append("")
    return "\n".join(lines)


def evaluate(version: str | None = None, *, registry: Registry | None = None, contracts: Path | None = None,
             limit: int | None = None, collateral_limit: int | None = None, progress: bool = True) -> dict:
    """Run the evaluation of one version and write eval/ into its folder; returns the metrics."""
    from app.classifier import Classifier, softmax
    from app.routing import load_policy

    clf = Classifier.load(version, registry=registry)
    mv = clf.version
    ds, info = version_dataset(mv)
    rows = real_rows(ds, "test")
    labels = label_ids(rows)
    logits = version_logits(clf, rows)
    probs = softmax(logits, clf.temperature)
    test_contracts = contracts_in(info, "test")
    others = other_category_rows(test_contracts, collateral_limit)
    other_pred = version_logits(clf, others).argmax(axis=1) if others else np.array([])
    m = {
        "version": mv.name, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "temperature": clf.temperature, "n_test_contracts": len(test_contracts),
        "clauses": label_metrics(labels, probs=probs),
        "ece_uncalibrated": expected_calibration_error(softmax(logits), labels),
        "ece_noise_floor": ece_noise_floor(probs),
        "collateral": {"n": len(others), "sampled": collateral_limit is not None and len(others) == collateral_limit,
                       "none_rate": float((other_pred == LABEL2ID["none"]).mean()) if len(others) else None},
        "routing": routing_metrics(probs, labels, load_policy(mv)),
    }
    out = mv.path / "eval"
    reliability_diagram(out / "reliability.png", labels, {"uncalibrated": softmax(logits), "calibrated": probs})
    confusion_png(out / "confusion.png", m["clauses"]["confusion"])
    if contracts is not None:
        m["contracts"] = evaluate_contracts(clf, contracts, test_contracts, limit=limit, progress=progress)
    (out / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
    (out / "report.md").write_text(markdown_report(m))
    return m


def evaluate_contracts(clf, folder: Path, held_out: set[str], *, limit: int | None, progress: bool) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluationError(f"{folder} is not a folder of contracts")
    truth = cuad_contract_answers()
    stems = {p.stem for p in folder.iterdir() if p.suffix in (".txt", ".pdf")}
    # Only contracts none of whose clauses were trained on: the test split's.
    names = sorted(stems & held_out & set(truth))
    if limit:
        names = names[:limit]
    if not names:
        raise EvaluationError(f"no held-out test contract of contracts.json found in {folder}")
    predicted, failed = classify_contracts(clf, folder, names, progress=progress)
    return {"folder": str(folder), "failed": failed, **contract_metrics(predicted, truth)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model version (default: the active one)")
    parser.add_argument("--contracts", type=Path, help="folder of contract .txt/.pdf files to evaluate whole")
    parser.add_argument("--limit", type=int, help="evaluate at most this many held-out contracts (sorted by name)")
    parser.add_argument("--collateral-limit", type=int,
                        help="score a seeded sample of this many other-category clauses (default: all)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from app.classifier import ClassifierError

    try:
        m = evaluate(args.model, contracts=args.contracts, limit=args.limit, collateral_limit=args.collateral_limit,
                     progress=not args.quiet)
    except (ModelVersionNotFound, ClassifierError, EvaluationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(markdown_report(m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
