"""`python -m app score --engine ray`: the same batch spread over a Ray cluster with Ray Data.

Ingestion runs as Ray tasks (one contract each), classification in a pool of actors that each load
the model once; the driver groups rows back into contracts and finishes each with the local
engine's `finish_contract`, so the output, the resume rule and the summary are the same. Needs
`pip install 'lexdora[ray]'`, lexdora installed on every node, and the contract paths readable from
every node (a shared folder). `RAY_ADDRESS` picks the cluster; without it a local Ray is started.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from app.batch.inputs import IngestedContract, read_contract, sha256_of
from app.batch.output import ClauseWriter, Store, finish_contract
from app.batch.report import BatchError, BatchReport
from app.ingest import Clause, Document
from app.scoring import ScoredClause, score_one
from app.taxonomy import LABEL_IDS

# Every row leaving ingestion has these columns, so Ray Data sees one schema: clause rows carry a
# clause, "failed" and "skipped" rows carry one contract's outcome. The document's format and text
# ride on the contract's first clause only (the database keeps them with --db).
_INGEST_COLUMNS = ("path", "status", "error", "sha256", "n_clauses", "index", "number", "heading", "page", "pages",
                   "start", "end", "text", "format", "document_text")


def _ingest_rows(row: dict, done: frozenset[str]) -> list[dict]:
    path = Path(row["path"])
    contract = read_contract(path, done)
    base = dict.fromkeys(_INGEST_COLUMNS, "") | {"path": str(path), "sha256": contract.sha256, "n_clauses": 0,
                                                  "index": -1, "page": -1, "start": -1, "end": -1}
    if contract.error is not None:
        return [base | {"status": "failed", "error": contract.error}]
    if contract.clauses is None:
        return [base | {"status": "skipped"}]
    n, doc = len(contract.clauses), contract.document
    return [base | {"status": "clause", "n_clauses": n, "index": c.index, "number": c.number or "",
                    "heading": c.heading or "", "page": c.page if c.page is not None else -1,
                    "pages": ",".join(map(str, c.pages or ())), "start": c.start, "end": c.end, "text": c.text,
                    "format": doc.format if c.index == 0 else "", "document_text": doc.text if c.index == 0 else ""}
            for c in contract.clauses]


class _ScoreActor:
    """One model per actor, loaded once; adds the calibrated probabilities of each batch's clause rows."""

    def __init__(self, version: str, threads: int):
        import torch

        from app.classifier import Classifier

        torch.set_num_threads(threads)
        self.classifier = Classifier.load(version)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        is_clause = batch["status"] == "clause"
        probs = np.zeros((len(is_clause), len(LABEL_IDS)), dtype=np.float64)
        if is_clause.any():
            probs[is_clause] = self.classifier.predict_proba(list(batch["text"][is_clause]),
                                                             headings=list(batch["heading"][is_clause]))
        batch["probs"] = probs
        batch["model_version"] = np.array([self.classifier.version.name] * len(is_clause), dtype=object)
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


def score_files_ray(files: list[Path], version: str, policy, writer: ClauseWriter, completed: dict[str, list[dict]],
                    store: Store | None = None, progress: bool = True,
                    workers: int = 1, threads_per_worker: int = 1, batch_size: int = 64) -> BatchReport:
    """Score `files` on Ray with model `version` and routing `policy`; same outputs and report as the local engine."""
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

    def finish(contract: IngestedContract, scored: list[ScoredClause] | None = None) -> None:
        bar.update(1)
        finish_contract(contract, lambda _: scored, writer=writer, completed=completed, report=report,
                        store=_with_bytes(store) if store is not None else None)

    for row in ds.iter_rows():
        path = names[row["path"]]
        if row["status"] == "failed":
            finish(IngestedContract(path, row["sha256"], error=row["error"]))
            continue
        if row["status"] == "skipped":
            finish(IngestedContract(path, row["sha256"]))
            continue
        # Grouped by path, not hash: the same contract under two names must not mix its rows.
        rows = partial.setdefault(row["path"], [])
        rows.append(row)
        if len(rows) < row["n_clauses"]:
            continue
        rows = sorted(partial.pop(row["path"]), key=lambda r: r["index"])
        contract, scored = _contract_of(path, rows, policy)
        finish(contract, scored)
    bar.close()
    return report


def _contract_of(path: Path, rows: list[dict], policy) -> tuple[IngestedContract, list[ScoredClause]]:
    """The contract and its scored clauses back from the clause rows of the actors."""
    clauses = [Clause(index=int(r["index"]), number=r["number"] or None, heading=r["heading"], text=r["text"],
                      start=int(r["start"]), end=int(r["end"]), page=None if r["page"] == -1 else int(r["page"]),
                      pages=tuple(int(p) for p in r["pages"].split(",") if p)) for r in rows]
    first = rows[0]
    # Page starts do not travel through Ray; the clauses carry their pages.
    document = Document(path.name, first["format"], first["document_text"], (), first["sha256"])
    scored = [score_one(c, r["probs"], policy, r["model_version"]) for c, r in zip(clauses, rows, strict=True)]
    return IngestedContract(path, first["sha256"], document=document, clauses=clauses), scored


def _with_bytes(store: Store) -> Store:
    """The driver reads the bytes a store keeps (the upload folder) itself: they did not travel through Ray."""

    def store_with_bytes(contract: IngestedContract, scored: list[ScoredClause]) -> None:
        data = contract.path.read_bytes()
        if sha256_of(data) != contract.sha256:
            raise BatchError("the file changed while it was scored; run again")
        contract.data = data
        store(contract, scored)

    return store_with_bytes
