"""The local engine: contracts (or clauses given as JSONL) scored in this process, reading overlapping scoring."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from app.batch.inputs import ClauseRecord, IngestedContract, read_contract
from app.batch.output import ClauseWriter, Store, finish_contract
from app.batch.report import BatchReport
from app.routing import Policy
from app.scoring import ScoredClause, Scorer, score_clauses


def score_files(files: list[Path], classifier: Scorer, policy: Policy, writer: ClauseWriter,
                completed: dict[str, list[dict]], store: Store | None = None,
                progress: bool = True) -> BatchReport:
    """Score `files` in order, appending to `writer` and adding to `completed`; one bad file never stops the rest."""
    report = BatchReport()

    def score(contract: IngestedContract) -> list[ScoredClause]:
        return score_clauses(contract.clauses, classifier, policy)

    bar = tqdm(total=len(files), unit="contract", disable=not progress, dynamic_ncols=True)
    # Reading and segmenting the next contract overlaps the model's forward passes on this one
    # (torch releases the GIL), so ingestion does not add to the classifier's time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [pool.submit(read_contract, f, frozenset(completed)) for f in files[:1]]
        for i, _ in enumerate(files):
            contract = pending.pop(0).result()
            if i + 1 < len(files):
                pending.append(pool.submit(read_contract, files[i + 1], frozenset(completed)))
            bar.update(1)
            finish_contract(contract, score, writer=writer, completed=completed, report=report, store=store)
            bar.set_postfix(clauses=report.clauses, failed=len(report.failures), refresh=False)
    bar.close()
    return report


_CHUNK = 256  # clauses scored per call: big enough for length-sorted batches, small enough for steady progress


def classify_records(records: list[ClauseRecord], classifier: Scorer, policy: Policy, output: Path,
                     progress: Callable[[int], None] | None = None) -> int:
    """Write one JSONL prediction per record to `output` (id, label, probs, decision, reason, model).

    The file appears whole or not at all. progress: called with the number of records just scored.
    """
    tmp = output.with_name(f".{output.name}.tmp")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as out:
        for start in range(0, len(records), _CHUNK):
            chunk = records[start:start + _CHUNK]
            for record, s in zip(chunk, score_clauses(chunk, classifier, policy, batch_size=_CHUNK), strict=True):
                out.write(json.dumps({"id": record.id, "label": s.label, "probs": s.probabilities,
                                      "decision": s.decision.action, "reason": s.decision.reason,
                                      "model": s.model_version}) + "\n")
            if progress is not None:
                progress(len(chunk))
    os.replace(tmp, output)  # a finished file or none: never a half-written one
    return len(records)
