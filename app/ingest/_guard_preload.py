"""Imported once by app.ingest.guard's fork server: imports the readers and runs each once on a small
input, so that what they import or compile lazily (pysbd compiles ~100 regular expressions on first
use: 0.4 s) is done before the fork, not in every child."""
from __future__ import annotations

import gc
import io
import zipfile

from app.config import get_settings
from app.ingest import IngestError, ingest_bytes


def _warm() -> None:
    get_settings()
    get_settings.cache_clear()
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("word/document.xml", "<x/>")
    # A paragraph long enough to be split into sentences, with abbreviations, numbers and quotes.
    long = (b"1. Liability. Neither party (e.g. Acme Inc. or its U.S. affiliates) shall be liable for "
            b"more than $1,000,000.00 in the aggregate, i.e. the fees paid in the 12 months before the "
            b"claim; see Section 9.2(a) and Art. IV of the \"Agreement\" dated Jan. 1, 2020! ") * 40
    for data, name in ((long + b"\n", "warm.txt"),
                       (b"<html><body><p>1. Liability is capped.</p></body></html>", "warm.html"),
                       (docx.getvalue(), "warm.docx"), (b"%PDF-1.4\n%%EOF", "warm.pdf")):
        try:
            ingest_bytes(data, name, max_bytes=1 << 20)
        except IngestError:
            pass


try:
    _warm()
except Exception:  # noqa: BLE001 - a failed warm-up only makes the children slower, never wrong
    pass

# Children are forked from this process: keep the collector off the objects made so far, or its first
# pass in each child writes to every page of them (copy-on-write) and costs more than reading a file.
gc.collect()
gc.freeze()
