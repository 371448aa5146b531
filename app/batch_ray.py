"""`python -m app score --engine ray`: the same batch spread over a Ray cluster with Ray Data.

Ingestion runs as Ray tasks (one contract each), classification in a pool of actors that each load
the model once; the driver groups rows back into contracts and writes them as the local engine does,
so the output, the resume rule and the summary are the same. Needs `pip install 'lexdora[ray]'`,
lexdora installed on every node, and the contract paths readable from every node (a shared folder).
`RAY_ADDRESS` picks the cluster; without it a local Ray is started.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from app.batch import BatchError, BatchReport, ClauseScorer, ClauseWriter, _Ingested, _read_and_ingest
from app.taxonomy import LABEL_IDS

# Every row leaving ingestion has these columns, so Ray Data sees one schema: clause rows carry a
# clause, "failed" and "skipped" rows carry one contract's outcome.
_INGEST_COLUMNS = ("path", "status", "error", "sha256", "n_clauses", "index", "number", "heading", "page", "text")


def _ingest_rows(row: dict, done: frozenset[str]) -> list[dict]:
    path = Path(row["path"])
    item = _read_and_ingest(path, done)
    base = dict.fromkeys(_INGEST_COLUMNS, "") | {"path": str(path), "sha256": item.sha256, "n_clauses": 0,
                                                  "index": -1, "page": -1}
    if item.error is not None:
        return [base | {"status": "failed", "error": item.error}]
    if item.clauses is None:
        return [base | {"status": "skipped"}]
    n = len(item.clauses)
    return [base | {"status": "clause", "n_clauses": n, "index": c.index, "number": c.number or "",
                    "heading": c.heading or "", "page": c.page if c.page is not None else -1,
                    "text": c.text} for c in item.clauses]


class _ScoreActor:
    """One model per actor, loaded once; classifies the clause rows of each batch."""

    def __init__(self, version: str, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.scorer = ClauseScorer.load(version)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        is_clause = batch["status"] == "clause"
        probs = np.zeros((len(is_clause), len(LABEL_IDS)), dtype=np.float64)
        if is_clause.any():
            probs[is_clause] = self.scorer.classifier.predict_proba(list(batch["text"][is_clause]))
        labels, actions, reasons = [], [], []
        for clause, p in zip(is_clause, probs):
            if clause:
                decision = self.scorer.policy.decide(dict(zip(LABEL_IDS, map(float, p))))
                labels.append(decision.label)
                actions.append(decision.action)
                reasons.append(decision.reason)
            else:
                labels.append(""), actions.append(""), reasons.append("")
        batch["probs"] = probs
        batch["label"] = np.array(labels, dtype=object)
        batch["decision"] = np.array(actions, dtype=object)
        batch["reason"] = np.array(reasons, dtype=object)
        batch["model_version"] = np.array([self.scorer.model_version] * len(is_clause), dtype=object)
        return batch


def _init_ray(model_cpus: int):
    try:
        import ray
    except ImportError:
        raise BatchError("--engine ray needs Ray Data: pip install 'lexdora[ray]'") from None
    if not ray.is_initialized():
        # Workers must see the same registry and settings as this process.
        kwargs = {"runtime_env": {"env_vars": {k: v for k, v in os.environ.items() if k.startswith("LEXDORA_")}},
                  "include_dashboard": False, "log_to_driver": False}
        if os.environ.get("RAY_ADDRESS"):
            kwargs["address"] = os.environ["RAY_ADDRESS"]
        else:
            # A local Ray counts the machine's cores; actors that take them all would leave no CPU
            # for the ingestion tasks and the pipeline would wait forever, so one more is declared.
            kwargs["num_cpus"] = max(len(os.sched_getaffinity(0)), model_cpus + 1)
        ray.init(**kwargs)
    return ray


def score_files_ray(files: list[Path], version: str, writer: ClauseWriter, completed: dict[str, list[dict]],
                    store: Callable[[_Ingested, list[dict]], None] | None = None, progress: bool = True,
                    workers: int = 1, threads_per_worker: int = 1, batch_size: int = 64) -> BatchReport:
    """Score `files` on Ray; same outputs and report as app.batch.score_files."""
    ray = _init_ray(workers * threads_per_worker)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    report = BatchReport()
    if not files:
        return report
    done = frozenset(completed)
    ds = (ray.data.from_items([{"path": str(p.resolve())} for p in files], override_num_blocks=len(files))
          .flat_map(_ingest_rows, fn_kwargs={"done": done})
          .map_batches(_ScoreActor, fn_constructor_kwargs={"version": version, "threads": threads_per_worker},
                       batch_size=batch_size, batch_format="numpy",
                       compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=threads_per_worker))
    names = {str(p.resolve()): p for p in files}
    partial: dict[str, list[dict]] = {}
    bar = tqdm(total=len(files), unit="contract", disable=not progress, dynamic_ncols=True)
    for row in ds.iter_rows():
        path = names[row["path"]]
        if row["status"] == "failed":
            report.fail(path, row["error"])
            bar.update(1)
            continue
        if row["status"] == "skipped":
            report.skip(path, row["sha256"], completed)
            bar.update(1)
            continue
        # Grouped by path, not hash: the same contract under two names must not mix its rows.
        rows = partial.setdefault(row["path"], [])
        rows.append(_output_row(path, row))
        if len(rows) < row["n_clauses"]:
            continue
        rows = sorted(partial.pop(row["path"]), key=lambda r: r["index"])
        bar.update(1)
        if row["sha256"] in completed:
            report.skip(path, row["sha256"], completed)
            continue
        if store is not None:
            try:
                store(_Ingested(path, row["sha256"], data=path.read_bytes()), rows)
            except BatchError as e:
                report.fail(path, str(e))
                continue
            except Exception as e:  # noqa: BLE001 - one contract's crash must not stop the batch
                report.fail(path, f"{type(e).__name__}: {e}")
                continue
        writer.write_contract(rows)
        completed[row["sha256"]] = rows
        report.scored += 1
        report.clauses += len(rows)
    bar.close()
    return report


def _output_row(path: Path, row: dict) -> dict:
    return {
        "contract": path.name, "sha256": row["sha256"], "model_version": row["model_version"],
        "n_clauses": int(row["n_clauses"]), "index": int(row["index"]), "number": row["number"],
        "heading": row["heading"], "page": None if row["page"] == -1 else int(row["page"]), "text": row["text"],
        "label": row["label"],
        "probabilities": {label: round(float(p), 6) for label, p in zip(LABEL_IDS, row["probs"])},
        "decision": row["decision"], "reason": row["reason"],
    }
