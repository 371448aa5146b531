"""Ingestion: contract bytes -> Document -> numbered clauses with pages and offsets."""
from __future__ import annotations

import stat
from pathlib import Path

from app.ingest.document import Clause, Document, IngestError
from app.ingest.readers import max_upload_bytes, read_document, too_big
from app.ingest.segment import segment
from app.ingest.structure import contract_warnings

__all__ = ["Clause", "Document", "IngestError", "contract_warnings", "ingest_bytes", "ingest_path", "read_document",
           "read_path", "segment"]


def ingest_bytes(data: bytes, name: str, *, max_bytes: int | None = None) -> tuple[Document, list[Clause]]:
    """Read and segment one contract given as bytes."""
    document = read_document(data, name, max_bytes=max_bytes)
    return document, segment(document)


def read_path(path, *, max_bytes: int | None = None) -> bytes:
    """A contract file's bytes, refused before reading when it is over `max_bytes` (default: the
    LEXDORA_MAX_UPLOAD_MB setting) or is not a regular file (a FIFO would block, a device never end)."""
    path = Path(path)
    if max_bytes is None:
        max_bytes = max_upload_bytes()
    name = path.name or str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IngestError(f"{name}: this is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise IngestError(f"{name}: this is not a regular file (a device, pipe or socket); "
                              "name the contract file itself")
        if info.st_size > max_bytes:
            raise too_big(name, info.st_size, max_bytes)
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)  # bounded even if the file grows after the check
    except FileNotFoundError:
        raise IngestError(f"{name}: file not found at {path}") from None
    except IsADirectoryError:
        raise IngestError(f"{name}: this is a folder, not a file") from None
    except PermissionError:
        raise IngestError(f"{name}: permission denied; check the file can be read") from None
    except OSError as e:  # a symlink loop, a name too long, an I/O error: one line, not a traceback
        raise IngestError(f"{name}: cannot be read ({e.strerror or type(e).__name__})") from None
    if len(data) > max_bytes:
        raise too_big(name, len(data), max_bytes)
    return data


def ingest_path(path, *, max_bytes: int | None = None) -> tuple[Document, list[Clause]]:
    """Read and segment one contract file; the size limit is checked (stat) before the file is read."""
    path = Path(path)
    return ingest_bytes(read_path(path, max_bytes=max_bytes), path.name, max_bytes=max_bytes)
