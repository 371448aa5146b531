"""What a batch run reports: contracts scored, skipped, copied and failed; and its error type."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm


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
