"""What a batch reads: contract files found under folders, each read once and cut into clauses."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.batch.report import BatchError
from app.ingest import Clause, Document, IngestError, ingest_bytes

# Suffixes picked up when walking a folder; files named explicitly are always tried, since the
# reader detects the format from the bytes and reports a wrong one as a bad file.
CONTRACT_SUFFIXES = frozenset({".pdf", ".docx", ".txt", ".html", ".htm"})


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


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class IngestedContract:
    """One contract file after reading: its clauses, or why it cannot be scored, or (clauses None) already done."""

    path: Path
    sha256: str
    document: Document | None = None
    clauses: list[Clause] | None = None
    error: str | None = None
    data: bytes = b""


def read_contract(path: Path, done: frozenset[str] | set[str] = frozenset()) -> IngestedContract:
    """Read, hash and segment one file; a file whose hash is in `done` is not segmented."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return IngestedContract(path, "", error=f"cannot read the file ({e.strerror})")
    sha = sha256_of(data)
    if sha in done:
        return IngestedContract(path, sha)
    try:
        document, clauses = ingest_bytes(data, path.name)
    except IngestError as e:
        return IngestedContract(path, sha, error=str(e))
    if not clauses:
        return IngestedContract(path, sha, error="no clauses found: the file holds no text to score")
    return IngestedContract(path, sha, document=document, clauses=clauses, data=data)


# ---------------------------------------------------------------------------- clauses given as JSONL


class BadLine(ValueError):
    """One input line that cannot be scored; the message says why."""


@dataclass(frozen=True)
class ClauseRecord:
    """A clause given by id and text, with its heading if known (one line of `python -m app classify --input`)."""

    id: object
    text: str
    heading: str = ""


def parse_line(line: str) -> ClauseRecord:
    """The id and text of one JSONL line, or BadLine naming what is wrong."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadLine(f"not valid JSON ({e.msg})") from None
    if not isinstance(record, dict):
        raise BadLine("expected a JSON object with 'id' and 'text'")
    if record.get("id") in (None, ""):
        raise BadLine("missing 'id'")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadLine("missing or empty 'text'")
    heading = record.get("heading")
    return ClauseRecord(record["id"], text, heading if isinstance(heading, str) else "")


def read_clause_records(path: Path) -> tuple[list[ClauseRecord], list[tuple[int, BadLine]]]:
    """The good records of a JSONL file, and (line number, problem) for each bad line; blank lines are ignored."""
    records, bad = [], []
    with path.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(parse_line(line))
            except BadLine as e:
                bad.append((n, e))
    return records, bad
