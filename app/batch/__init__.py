"""Batch scoring: folders of contracts -> one row per clause (JSONL or CSV) and a per-contract summary.

`run_batch` (behind `python -m app score PATH... --output FILE`) ingests each contract, classifies
its clauses with one model version, routes each prediction (app.scoring) and appends the
contract's rows to FILE in one write. The output is also the resume log: a contract whose content
hash already has all its rows there, scored by the same model version, is skipped; rows of a
contract cut short by a kill are dropped on resume.

inputs: finding and reading contracts; output: the row file, the summary and `finish_contract`,
the sequence both engines run per contract; local and ray: the two engines.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.batch.inputs import (CONTRACT_SUFFIXES, FoundContracts, IngestedContract, find_contracts, read_contract,
                              sha256_of, walk_contracts)
from app.batch.local import score_files
from app.batch.output import (CLAUSE_FIELDS, CSV_FIELDS, SUMMARY_FIELDS, ClauseWriter, OutputLock, Store,
                              contract_rows, finish_contract, load_completed, output_format, read_rows, summarise,
                              write_summary)
from app.batch.report import BatchError, BatchReport, ContractFailure, printable
from app.scoring import ContractRule, ScoredClause

__all__ = ["CLAUSE_FIELDS", "CONTRACT_SUFFIXES", "CSV_FIELDS", "SUMMARY_FIELDS", "BatchError", "BatchReport",
           "BatchResult", "ClauseWriter", "ContractFailure", "FoundContracts", "IngestedContract", "OutputLock",
           "Store", "contract_rows", "db_store", "find_contracts", "finish_contract", "load_completed",
           "output_format", "printable", "read_contract", "read_rows", "run_batch", "score_files", "sha256_of",
           "summarise", "walk_contracts", "write_summary"]


@dataclass
class BatchResult:
    report: BatchReport
    completed: dict[str, list[dict]]   # content hash -> rows of every contract in the output file
    rule: ContractRule                  # the model version's contract rule, for the summary

    def summary(self) -> list[dict]:
        return summarise(self.completed.values(), self.report.copies, self.rule)


def run_batch(paths: list[Path], output: Path, model: str | None = None, db: bool = False,
              uploader: str = "batch", engine: str = "local", workers: int = 1,
              progress: bool = True) -> BatchResult:
    """The batch behind `python -m app score`: report, every completed contract's rows and the contract rule."""
    from app.classifier import Classifier, ClassifierError
    from app.registry import ModelVersionNotFound, Registry
    from app.routing import PolicyError, load_policy
    from app.scoring import ContractRuleError, contract_rule

    if engine not in ("local", "ray"):
        raise BatchError(f"unknown engine {engine!r}; use local or ray")
    output_format(output)
    found = walk_contracts(paths)
    files = found.files
    try:
        version = Registry().get(model)
        policy = load_policy(version)
        rule = contract_rule(version)
    except (ModelVersionNotFound, PolicyError, ContractRuleError) as e:
        raise BatchError(str(e)) from None
    store = db_store(uploader) if db else None
    passed_over = BatchReport()
    for path, why in found.skipped:
        passed_over.ignore(path, why)
    for path, why in found.broken:
        passed_over.fail(path, why)
    with OutputLock(output):
        completed = load_completed(output, version.name)  # may rewrite the file: before it is opened
        with ClauseWriter(output) as writer:
            if engine == "ray":
                from app.batch.ray import score_files_ray

                report = score_files_ray(files, version.name, policy, writer, completed, store=store,
                                         progress=progress, workers=workers)
            else:
                try:
                    classifier = Classifier.load(version.name)
                except ClassifierError as e:
                    raise BatchError(str(e)) from None
                report = score_files(files, classifier, policy, writer, completed, store=store, progress=progress)
    report.failures[:0] = passed_over.failures
    report.ignored[:0] = passed_over.ignored
    return BatchResult(report, completed, rule)


def db_store(uploader: str) -> Store:
    """Stores each scored contract for review in the app, with the batch's own clauses and probabilities."""
    from app import services
    from app.roles import ROLES, may

    user = next((u for u in services.list_users() if u.name == uploader), None)
    if user is None:
        raise BatchError(f"--db: no user named {uploader!r}; create one with "
                         f"python -m app users add {uploader} --role lawyer, or pass --uploader NAME")
    if not may(user.role, "upload"):
        raise BatchError(f"--db: {uploader!r} is a {user.role} and cannot upload; pass --uploader with a "
                         f"{' or '.join(r for r in ROLES if may(r, 'upload'))} account")

    def store(contract: IngestedContract, scored: list[ScoredClause]) -> None:
        try:
            services.store_scored_contract(user.id, contract.path.name, contract.data, contract.document, scored)
        except services.ServiceError as e:
            raise BatchError(str(e)) from None

    return store
