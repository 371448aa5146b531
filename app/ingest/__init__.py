"""Ingestion: contract bytes -> Document -> numbered clauses with pages and offsets."""
from __future__ import annotations

from pathlib import Path

from app.ingest.document import Clause, Document, IngestError
from app.ingest.readers import read_document
from app.ingest.segment import segment

__all__ = ["Clause", "Document", "IngestError", "ingest_bytes", "ingest_path", "read_document", "segment"]


def ingest_bytes(data: bytes, name: str, *, max_bytes: int | None = None) -> tuple[Document, list[Clause]]:
    """Read and segment one contract given as bytes."""
    document = read_document(data, name, max_bytes=max_bytes)
    return document, segment(document)


def ingest_path(path) -> tuple[Document, list[Clause]]:
    """Read and segment one contract file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IngestError(f"{path.name}: file not found at {path}") from None
    except IsADirectoryError:
        raise IngestError(f"{path.name}: this is a folder, not a file") from None
    except PermissionError:
        raise IngestError(f"{path.name}: permission denied; check the file can be read") from None
    return ingest_bytes(data, path.name)
