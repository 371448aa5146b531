"""What a batch reads: contract files found under folders, each read once and cut into clauses."""
from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.batch.report import BatchError
from app.ingest import Clause, Document, IngestError, read_path
from app.ingest.guard import ingest_bytes_guarded

# Suffixes picked up when walking a folder; files named explicitly are always tried, since the
# reader detects the format from the bytes and reports a wrong one as a bad file.
CONTRACT_SUFFIXES = frozenset({".pdf", ".docx", ".txt", ".html", ".htm"})


@dataclass
class FoundContracts:
    """What a walk over the named paths found: files to score, and what it passed over, with why."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)   # hidden, links out of a folder: not errors
    broken: list[tuple[Path, str]] = field(default_factory=list)    # symlink loops, unreadable folders: failures


def walk_contracts(paths: Iterable[Path]) -> FoundContracts:
    """Files named explicitly, plus contract files found recursively under folders; sorted, no repeats.

    Inside a folder, dot-files and dot-folders are skipped, and symbolic links are followed only when
    they point inside that folder (a link to /etc/passwd or to a sibling folder is skipped); a symlink
    loop, named or found, is reported instead of read. A path that does not exist is a BatchError.
    """
    found = FoundContracts()
    seen: dict[Path, None] = {}
    for path in map(Path, paths):
        if path.is_symlink() and (why := _broken_link(path)):
            found.broken.append((path, why))
        elif path.is_dir():
            for p in _walk_folder(path, found):
                seen.setdefault(p, None)
        elif path.exists():
            seen.setdefault(path, None)
        else:
            raise BatchError(f"{path}: no such file or folder")
    found.files = list(seen)
    return found


def find_contracts(paths: Iterable[Path]) -> list[Path]:
    """The files of walk_contracts, without what it passed over."""
    return walk_contracts(paths).files


def _broken_link(path: Path) -> str | None:
    try:
        path.resolve(strict=True)
    except RuntimeError:   # Python < 3.13 reports a loop this way
        return "a symbolic link loop; not read"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symbolic link loop; not read"
        return f"a symbolic link to nothing ({e.strerror}); not read"
    return None


def _walk_folder(root: Path, found: FoundContracts) -> list[Path]:
    real_root = root.resolve()
    files: list[Path] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            found.broken.append((folder, f"cannot list the folder ({e.strerror})"))
            continue
        for entry in entries:
            p = Path(entry.path)
            if entry.name.startswith("."):
                if entry.is_dir(follow_symlinks=False) or p.suffix.lower() in CONTRACT_SUFFIXES:
                    found.skipped.append((p, "hidden (its name starts with a dot); name it to score it"))
                continue
            if entry.is_symlink():
                if why := _broken_link(p):
                    found.broken.append((p, why))
                    continue
                target = p.resolve()
                if not target.is_relative_to(real_root):
                    found.skipped.append((p, f"a link to {target}, outside {root}; not followed"))
                    continue
                if target.is_dir():
                    continue   # inside the folder: walked where it really is
            if entry.is_dir(follow_symlinks=False):
                stack.append(p)
            elif p.suffix.lower() in CONTRACT_SUFFIXES and p.is_file():
                files.append(p)
    return sorted(files)


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
    """Read, hash and segment one file; a file whose hash is in `done` is not segmented.

    Reading checks the size before it reads (read_path), and segmenting runs in a child process with
    a time and memory budget (app/ingest/guard.py): one crafted file cannot stall or sink a batch."""
    try:
        data = read_path(path)
    except IngestError as e:
        return IngestedContract(path, "", error=str(e))
    except OSError as e:
        return IngestedContract(path, "", error=f"cannot read the file ({e.strerror})")
    sha = sha256_of(data)
    if sha in done:
        return IngestedContract(path, sha)
    try:
        document, clauses = ingest_bytes_guarded(data, path.name)
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
