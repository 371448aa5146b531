"""Batch scoring: folders of contracts -> one row per clause (JSONL or CSV) and a per-contract summary.

`python -m app score PATH... --output FILE` ingests each contract, classifies its clauses with one
model version, routes each prediction and appends the contract's rows to FILE in one write. The
output is also the resume log: a contract whose content hash already has all its rows there, scored
by the same model version, is skipped; rows of a contract cut short by a kill are dropped on resume.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import typer
from tqdm import tqdm

from app.cli import cli
from app.taxonomy import BUCKETS, LABEL_IDS, has_cap, has_uncapped

# Suffixes picked up when walking a folder; files named explicitly are always tried, since the
# reader detects the format from the bytes and reports a wrong one as a bad file.
CONTRACT_SUFFIXES = frozenset({".pdf", ".docx", ".txt", ".html", ".htm"})

# Per-clause columns, in output order. `probabilities` is one object in JSONL and one
# `p_<label>` column per label in CSV; `sha256`, `model_version` and `n_clauses` make resuming possible.
CLAUSE_FIELDS = ("contract", "sha256", "model_version", "n_clauses", "index", "number", "heading",
                 "page", "text", "label", "probabilities", "decision", "reason")
CSV_FIELDS = (*CLAUSE_FIELDS[:-3], *(f"p_{label}" for label in LABEL_IDS), "decision", "reason")
SUMMARY_FIELDS = ("contract", "has_cap", "has_uncapped", *BUCKETS, "none", "n_clauses", "n_review")


class BatchError(Exception):
    """A problem with the batch as a whole (output file, arguments), worded for the user."""


@dataclass
class ContractFailure:
    path: Path
    message: str


@dataclass
class BatchReport:
    scored: int = 0
    skipped: int = 0
    clauses: int = 0
    failures: list[ContractFailure] = field(default_factory=list)
    # file name -> name of the file with the same bytes whose rows stand for both (scored once).
    copies: dict[str, str] = field(default_factory=dict)

    def skip(self, path: Path, sha256: str, completed: dict[str, list[dict]]) -> None:
        """A contract whose bytes are already scored: by an earlier run, or as another file of this batch."""
        first = completed[sha256][0]["contract"]
        if first == path.name:
            self.skipped += 1
            return
        # A folder often holds the same contract twice ("x.pdf", "x(1).pdf"); the rows are not
        # written twice (the output is keyed by content), but the summary keeps a row for each name.
        self.copies[path.name] = first
        tqdm.write(f"copy: {path}: same bytes as {first}, scored once under that name", file=sys.stderr)

    def fail(self, path: Path, message: str) -> None:
        """Record a contract that could not be scored and say so at once, above the progress bar."""
        # Ingestion's messages already start with the file name; the full path replaces it.
        message = message.removeprefix(f"{path.name}: ")
        self.failures.append(ContractFailure(path, message))
        tqdm.write(f"failed: {path}: {message}", file=sys.stderr)


def find_contracts(paths: Iterable[Path]) -> list[Path]:
    """Files named explicitly, plus contract files found recursively under folders; sorted, no repeats."""
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and p.suffix.lower() in CONTRACT_SUFFIXES and not p.name.startswith("."):
                    found.setdefault(p, None)
        elif path.exists():
            found.setdefault(path, None)
        else:
            raise BatchError(f"{path}: no such file or folder")
    return list(found)


class ClauseScorer:
    """Classifier + routing policy of one model version: clauses in, output rows out."""

    def __init__(self, classifier, policy):
        self.classifier = classifier
        self.policy = policy
        self.model_version = classifier.version.name

    @classmethod
    def load(cls, version: str | None = None) -> ClauseScorer:
        from app.classifier import Classifier
        from app.routing import load_policy

        classifier = Classifier.load(version)
        return cls(classifier, load_policy(classifier.version))

    def rows(self, contract: str, sha256: str, clauses: list) -> list[dict]:
        probs = self.classifier.predict_proba([c.text for c in clauses]) if clauses else []
        return [self.row(contract, sha256, len(clauses), c, p) for c, p in zip(clauses, probs)]

    def row(self, contract: str, sha256: str, n_clauses: int, clause, probs) -> dict:
        probabilities = {label: float(p) for label, p in zip(LABEL_IDS, probs)}
        decision = self.policy.decide(probabilities)
        return {
            "contract": contract, "sha256": sha256, "model_version": self.model_version,
            "n_clauses": n_clauses, "index": clause.index, "number": clause.number or "",
            "heading": clause.heading or "", "page": clause.page, "text": clause.text,
            "label": decision.label,
            "probabilities": {label: round(p, 6) for label, p in probabilities.items()},
            "decision": decision.action, "reason": decision.reason,
        }


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- output file


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
                self._csv.writeheader()

    def write_contract(self, rows: list[dict]) -> None:
        if self.format == "jsonl":
            self._f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        else:
            self._csv.writerows(_flatten(r) for r in rows)
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
    with path.open(encoding="utf-8", newline="") as f:
        if output_format(path) == "jsonl":
            for line in f:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    return
        else:
            for flat in csv.DictReader(f):
                try:
                    yield _unflatten(flat)
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


# ---------------------------------------------------------------------------- summary


def summarise(rows_by_contract: Iterable[list[dict]], copies: dict[str, str] | None = None) -> list[dict]:
    """One summary row per contract: CUAD yes/no answers, a count per label, clauses needing review.

    `copies` (BatchReport.copies) maps a file name to the file with the same bytes; each gets its
    original's figures under its own name."""
    summary = []
    for rows in rows_by_contract:
        labels = Counter(r["label"] for r in rows)
        summary.append({
            "contract": rows[0]["contract"],
            "has_cap": str(has_cap(set(labels))).lower(),
            "has_uncapped": str(has_uncapped(set(labels))).lower(),
            **{label: labels.get(label, 0) for label in (*BUCKETS, "none")},
            "n_clauses": len(rows),
            "n_review": sum(r["decision"] != "auto_accept" for r in rows),
        })
    by_name = {row["contract"]: row for row in summary}
    summary += [by_name[first] | {"contract": name} for name, first in (copies or {}).items()]
    return summary


def write_summary(path: Path, summary: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(summary)


# ---------------------------------------------------------------------------- the batch


@dataclass
class _Ingested:
    path: Path
    sha256: str
    clauses: list | None = None
    error: str | None = None
    data: bytes = b""


def _read_and_ingest(path: Path, done: set[str]) -> _Ingested:
    from app.ingest import IngestError, ingest_bytes

    try:
        data = path.read_bytes()
    except OSError as e:
        return _Ingested(path, "", error=f"cannot read the file ({e.strerror})")
    sha = sha256_of(data)
    if sha in done:
        return _Ingested(path, sha)
    try:
        _, clauses = ingest_bytes(data, path.name)
    except IngestError as e:
        return _Ingested(path, sha, error=str(e))
    if not clauses:
        return _Ingested(path, sha, error="no clauses found: the file holds no text to score")
    return _Ingested(path, sha, clauses=clauses, data=data)


def score_files(files: list[Path], scorer: ClauseScorer, writer: ClauseWriter,
                completed: dict[str, list[dict]], store: Callable[[_Ingested, list[dict]], None] | None = None,
                progress: bool = True) -> BatchReport:
    """Score `files` in order, appending to `writer` and adding to `completed`; one bad file never stops the rest."""
    report = BatchReport()
    done = set(completed)
    bar = tqdm(total=len(files), unit="contract", disable=not progress, dynamic_ncols=True)
    # Reading and segmenting the next contract overlaps the model's forward passes on this one
    # (torch releases the GIL), so ingestion does not add to the classifier's time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = [pool.submit(_read_and_ingest, f, frozenset(done)) for f in files[:1]]
        for i, _ in enumerate(files):
            item = pending.pop(0).result()
            if i + 1 < len(files):
                pending.append(pool.submit(_read_and_ingest, files[i + 1], frozenset(done)))
            bar.update(1)
            if item.error is not None:
                report.fail(item.path, item.error)
                continue
            if item.clauses is None or item.sha256 in done:
                report.skip(item.path, item.sha256, completed)
                continue
            try:
                rows = scorer.rows(item.path.name, item.sha256, item.clauses)
                if store is not None:
                    store(item, rows)
            except BatchError as e:
                report.fail(item.path, str(e))
                continue
            except Exception as e:  # noqa: BLE001 - one contract's crash must not stop the batch
                report.fail(item.path, f"{type(e).__name__}: {e}")
                continue
            writer.write_contract(rows)
            completed[item.sha256] = rows
            done.add(item.sha256)
            report.scored += 1
            report.clauses += len(rows)
            bar.set_postfix(clauses=report.clauses, failed=len(report.failures), refresh=False)
    bar.close()
    return report


@cli.command()
def score(
    paths: list[Path] = typer.Argument(
        ..., help="Contract files (PDF, DOCX, TXT, HTML) or folders, searched recursively."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Per-clause results: FILE.jsonl or FILE.csv; also the resume log."),
    summary: Path | None = typer.Option(
        None, "--summary", help="CSV with one row per contract (has_cap, has_uncapped, counts)."),
    model: str | None = typer.Option(None, "--model", help="Model version to use; default: the active one."),
    db: bool = typer.Option(False, "--db", help="Also store each contract and its predictions for review in the app."),
    uploader: str = typer.Option("batch", "--uploader", help="With --db: the user recorded as uploader."),
    engine: str = typer.Option("local", "--engine", help="local, or ray to spread the work over a Ray cluster."),
    workers: int = typer.Option(1, "--workers", min=1, help="With --engine ray: model replicas (Ray actors) to run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Score contracts in bulk: one row per clause, resumable, bad files reported and skipped.

    Example: python -m app score contracts/ --output scores.jsonl --summary summary.csv
    """
    try:
        report, completed = run_batch(paths, output, model=model, db=db, uploader=uploader,
                                      engine=engine, workers=workers, progress=not quiet)
    except BatchError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    if summary is not None:
        write_summary(summary, summarise(completed.values(), report.copies))
    copies = f"{len(report.copies)} copies of another file, " if report.copies else ""
    typer.echo(f"{report.scored} contracts scored ({report.clauses} clauses), {report.skipped} already done, "
               f"{copies}{len(report.failures)} failed{' (listed above)' if report.failures else ''}; "
               f"results in {output}", err=True)
    if report.failures:
        raise typer.Exit(1)


def run_batch(paths: list[Path], output: Path, model: str | None = None, db: bool = False,
              uploader: str = "batch", engine: str = "local", workers: int = 1,
              progress: bool = True) -> tuple[BatchReport, dict[str, list[dict]]]:
    """The batch behind `python -m app score`; returns the report and every completed contract's rows."""
    if engine not in ("local", "ray"):
        raise BatchError(f"unknown engine {engine!r}; use local or ray")
    output_format(output)
    files = find_contracts(paths)
    from app.registry import ModelVersionNotFound, Registry

    try:
        version = Registry().get(model)
    except ModelVersionNotFound as e:
        raise BatchError(str(e)) from None
    completed = load_completed(output, version.name)
    store = _db_store(uploader) if db else None
    if engine == "ray":
        from app.batch_ray import score_files_ray

        with ClauseWriter(output) as writer:
            report = score_files_ray(files, version.name, writer, completed, store=store, progress=progress,
                                     workers=workers)
    else:
        scorer = ClauseScorer.load(version.name)
        with ClauseWriter(output) as writer:
            report = score_files(files, scorer, writer, completed, store=store, progress=progress)
    return report, completed


def _db_store(uploader: str) -> Callable[[_Ingested, list[dict]], None]:
    """Stores each scored contract through services.upload_contract, reusing the batch's probabilities."""
    from app import services

    user = next((u for u in services.list_users() if u.name == uploader), None)
    if user is None:
        raise BatchError(f"--db: no user named {uploader!r}; create one with "
                         f"python -m app users add {uploader} --role lawyer, or pass --uploader NAME")
    if user.role not in ("lawyer", "admin"):
        raise BatchError(f"--db: {uploader!r} is a {user.role} and cannot upload; pass --uploader with a "
                         "lawyer or admin account")

    def store(item: _Ingested, rows: list[dict]) -> None:
        scorer = _ScoredRows(rows)
        try:
            services.upload_contract(user.id, item.path.name, item.data, scorer_factory=lambda: scorer)
        except services.ServiceError as e:
            raise BatchError(str(e)) from None

    return store


class _ScoredRows:
    """The batch's own probabilities handed to services.upload_contract, so the model runs once per clause."""

    def __init__(self, rows: list[dict]):
        self.version_name = rows[0]["model_version"]
        self._probs = {r["text"]: [r["probabilities"][label] for label in LABEL_IDS] for r in rows}

    def predict_proba(self, texts: list[str]):
        import numpy as np

        return np.array([self._probs[t] for t in texts], dtype=np.float64)
