"""What a batch writes: one row per clause (JSONL or CSV, also the resume log) and a per-contract summary.

Text cells of the CSV files that a spreadsheet would read as formulas are written with a leading
apostrophe (app.safe_csv) and read back without it. CSV files start with a UTF-8 byte-order mark, so
Excel reads them as UTF-8 (app.safe_csv.CSV_ENCODING).

`finish_contract` is the one sequence both engines run on each contract: fail, skip, score, store,
write, in that order.
"""
from __future__ import annotations

import csv
import fcntl
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from app.batch.inputs import IngestedContract
from app.batch.report import BatchError, BatchReport
from app.ingest import contract_warnings
from app.safe_csv import CSV_ENCODING, neutralise_row, restore_row
from app.scoring import ContractRule, ScoredClause, contract_answers
from app.taxonomy import BUCKETS, LABEL_IDS

# Per-clause columns, in output order. `probabilities` is one object in JSONL and one
# `p_<label>` column per label in CSV; `sha256`, `model_version` and `n_clauses` make resuming possible.
CLAUSE_FIELDS = ("contract", "sha256", "model_version", "n_clauses", "index", "number", "heading",
                 "page", "text", "label", "probabilities", "decision", "reason")
CSV_FIELDS = (*CLAUSE_FIELDS[:-3], *(f"p_{label}" for label in LABEL_IDS), "decision", "reason")
# p_cap / p_uncapped: the probability behind each answer (app.scoring.contract_answers).
SUMMARY_FIELDS = ("contract", "has_cap", "has_uncapped", "p_cap", "p_uncapped", *BUCKETS, "none", "n_clauses",
                  "n_review")

# Stores one scored contract elsewhere too (the app's database with --db); raises BatchError to fail it.
Store = Callable[[IngestedContract, list[ScoredClause]], None]


class OutputLock:
    """An exclusive lock on a `score` output file for one run (a `.NAME.lock` file beside it, fcntl.flock).

    Two runs appending to one file would both score what neither had written yet and duplicate rows;
    the second one is refused instead. The lock goes with the process, a killed one included.
    """

    def __init__(self, output: Path):
        self.output = output
        self.path = output.with_name(f".{output.name}.lock")
        self._f = None

    def __enter__(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = self.path.open("a")
        try:
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._f.close()
            raise BatchError(f"{self.output}: another `score` run is writing to this file; wait for it to finish, "
                             "or choose another --output") from None
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()   # closing releases the lock


class ClauseWriter:
    """Appends the rows of one contract at a time to a JSONL or CSV file, flushed to disk."""

    def __init__(self, path: Path):
        self.path = path
        self.format = output_format(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self._f = path.open("a", encoding="utf-8", newline="")
        if self.format == "csv":
            self._csv = csv.DictWriter(self._f, fieldnames=CSV_FIELDS)
            if new:
                self._f.write("\ufeff")  # the byte-order mark of CSV_ENCODING: once, at the start of the file
                self._csv.writeheader()

    def write_contract(self, rows: list[dict]) -> None:
        if self.format == "jsonl":
            self._f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        else:
            self._csv.writerows(neutralise_row(_flatten(r)) for r in rows)
        # One contract is the unit of resume: get it to disk before starting the next.
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> ClauseWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise BatchError(f"{path}: output must end in .jsonl or .csv")


def contract_rows(contract: str, sha256: str, scored: Sequence[ScoredClause]) -> list[dict]:
    """The output rows of one contract's scored clauses, keys in CLAUSE_FIELDS order."""
    return [{"contract": contract, "sha256": sha256, "model_version": s.model_version, "n_clauses": len(scored),
             **s.row()} for s in scored]


def finish_contract(contract: IngestedContract, score: Callable[[IngestedContract], list[ScoredClause]], *,
                    writer: ClauseWriter, completed: dict[str, list[dict]], report: BatchReport,
                    store: Store | None = None) -> None:
    """Fail, skip, or score, store and write one contract; one contract's crash never stops the batch.

    score: the contract's scored clauses (the local engine classifies here; Ray hands over its results).
    completed: content hash -> rows of every contract done; this one is added once written.
    """
    if contract.error is not None:
        report.fail(contract.path, contract.error)
        return
    if contract.clauses is None or contract.sha256 in completed:
        report.skip(contract.path, contract.sha256, completed)
        return
    try:
        scored = score(contract)
        if store is not None:
            store(contract, scored)
    except BatchError as e:
        report.fail(contract.path, str(e))
        return
    except Exception as e:  # noqa: BLE001 - one contract's crash must not stop the batch
        report.fail(contract.path, f"{type(e).__name__}: {e}")
        return
    rows = contract_rows(contract.path.name, contract.sha256, scored)
    writer.write_contract(rows)
    completed[contract.sha256] = rows
    report.scored += 1
    report.clauses += len(rows)
    if contract.document is not None:
        for warning in contract_warnings(contract.document, contract.clauses):
            report.warn(contract.path, warning)


def _flatten(row: dict) -> dict:
    flat = {k: v for k, v in row.items() if k != "probabilities"}
    flat.update({f"p_{label}": p for label, p in row["probabilities"].items()})
    return flat


def _unflatten(flat: dict) -> dict:
    row = {k: v for k, v in flat.items() if not k.startswith("p_")}
    row["probabilities"] = {label: float(flat[f"p_{label}"]) for label in LABEL_IDS}
    row["n_clauses"] = int(row["n_clauses"])
    row["index"] = int(row["index"])
    row["page"] = int(row["page"]) if row["page"] else None
    return row


def read_rows(path: Path) -> Iterator[dict]:
    """Rows of an output file; a line cut short by a kill ends the reading."""
    if not path.exists():
        return
    with path.open(encoding=CSV_ENCODING, newline="") as f:  # takes off a CSV file's byte-order mark
        if output_format(path) == "jsonl":
            for line in f:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    return
        else:
            for flat in csv.DictReader(f):
                try:
                    yield _unflatten(restore_row(flat))
                except (KeyError, TypeError, ValueError):
                    return


def load_completed(path: Path, model_version: str) -> dict[str, list[dict]]:
    """Contracts fully scored in `path`, by content hash; rewrites the file without partial ones."""
    by_sha: dict[str, list[dict]] = {}
    n_rows = 0
    for row in read_rows(path):
        n_rows += 1
        if row["model_version"] != model_version:
            raise BatchError(
                f"{path} holds results of model version {row['model_version']!r}, not {model_version!r}; "
                "write to another --output file, or pass --model to continue with that version")
        by_sha.setdefault(row["sha256"], []).append(row)
    complete = {sha: rows for sha, rows in by_sha.items() if len(rows) == rows[0]["n_clauses"]}
    kept = sum(map(len, complete.values()))
    if path.exists() and (kept != n_rows or _has_torn_tail(path)):
        tmp = path.with_name(".tmp-" + path.name)
        tmp.unlink(missing_ok=True)
        with ClauseWriter(tmp) as writer:
            for rows in complete.values():
                writer.write_contract(rows)
        os.replace(tmp, path)
    return complete


def _has_torn_tail(path: Path) -> bool:
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def summarise(rows_by_contract: Iterable[list[dict]], copies: dict[str, str] | None = None,
              rule: ContractRule | None = None) -> list[dict]:
    """One summary row per contract: CUAD yes/no answers with their probabilities, a count per label,
    clauses needing review.

    `copies` (BatchReport.copies) maps a file name to the file with the same bytes; each gets its
    original's figures under its own name. `rule`: the model version's contract rule
    (app.scoring.contract_rule); default, any clause with a label mapped to the question."""
    summary = []
    for rows in rows_by_contract:
        labels = Counter(r["label"] for r in rows)
        answers = contract_answers(rows, rule)
        summary.append({
            "contract": rows[0]["contract"],
            "has_cap": str(answers.has_cap).lower(),
            "has_uncapped": str(answers.has_uncapped).lower(),
            "p_cap": answers.p_cap,
            "p_uncapped": answers.p_uncapped,
            **{label: labels.get(label, 0) for label in (*BUCKETS, "none")},
            "n_clauses": len(rows),
            "n_review": sum(r["decision"] != "auto_accept" for r in rows),
        })
    by_name = {row["contract"]: row for row in summary}
    summary += [by_name[first] | {"contract": name} for name, first in (copies or {}).items()]
    return summary


def write_summary(path: Path, summary: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=CSV_ENCODING, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(map(neutralise_row, summary))
