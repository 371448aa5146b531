"""What a batch run reports: contracts scored, skipped, copied and failed; and its error type."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from app.safe_csv import printable_name


def printable(text: object) -> str:
    """`text` (a path, a message) safe for one terminal line: control characters, terminal escape codes,
    line separators and bidi overrides shown escaped instead of acted on (app.safe_csv.printable_name)."""
    return printable_name(str(text))


def say(line: str) -> None:
    """One line on stderr, above the progress bar, with anything a terminal would act on escaped."""
    tqdm.write(printable(line), file=sys.stderr)


class BatchError(Exception):
    """A problem with the batch as a whole (output file, arguments), or with one contract, worded for the user."""


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
    warnings: list[ContractFailure] = field(default_factory=list)  # scored, but maybe not a contract
    ignored: list[ContractFailure] = field(default_factory=list)   # hidden files, links out of a folder
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
        say(f"copy: {path}: same bytes as {first}, scored once under that name")

    def fail(self, path: Path, message: str) -> None:
        """Record a contract that could not be scored and say so at once, above the progress bar."""
        # Ingestion's messages already start with the file name; the full path replaces it.
        message = message.removeprefix(f"{path.name}: ")
        self.failures.append(ContractFailure(path, message))
        say(f"failed: {path}: {message}")

    def warn(self, path: Path, message: str) -> None:
        """Record a doubt about a contract that was scored anyway (app.ingest.contract_warnings) and say so."""
        message = message.removeprefix(f"{path.name}: ")
        self.warnings.append(ContractFailure(path, message))
        say(f"warning: {path}: {message}")

    def ignore(self, path: Path, why: str) -> None:
        """Record a file passed over on purpose (not a failure) and say so."""
        self.ignored.append(ContractFailure(path, why))
        say(f"skipped: {path}: {why}")
