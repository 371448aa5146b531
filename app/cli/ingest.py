"""`python -m app ingest`: contracts in, clauses out."""
from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer

from app.batch.report import printable
from app.ingest import IngestError, contract_warnings, ingest_path


class OutputFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


def ingest(
    files: list[Path] = typer.Argument(..., help="Contract files: PDF, DOCX, TXT or HTML (detected from content)."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f",
                                        help="text: one readable line per clause; jsonl: one JSON object per clause."),
) -> None:
    """Read contracts and print their numbered clauses.

    A file that cannot be read prints its error on stderr and the others go on; the exit code is 1
    if any file failed. A file that reads but does not look like a contract (a short text without
    contract wording) gets a warning on stderr and is printed all the same.

    Example: python -m app ingest samples/*.txt --format jsonl > clauses.jsonl
    """
    failed = 0
    for path in files:
        try:
            document, clauses = ingest_path(path)
        except IngestError as e:
            failed += 1
            typer.echo(printable(f"error: {e}"), err=True)
            continue
        except OSError as e:  # a symlink loop, a folder, a file gone: one line, and on to the next file
            failed += 1
            typer.echo(printable(f"error: {path}: cannot be read ({e.strerror or e})"), err=True)
            continue
        for warning in contract_warnings(document, clauses):
            typer.echo(printable(f"warning: {warning}"), err=True)
        for c in clauses:
            if format is OutputFormat.jsonl:
                sys.stdout.write(json.dumps({
                    "contract": document.name, "index": c.index, "number": c.number, "heading": c.heading,
                    "text": c.text, "start": c.start, "end": c.end, "page": c.page,
                }, ensure_ascii=False) + "\n")
            else:
                preview = " ".join(c.text.split())
                preview = preview if len(preview) <= 100 else preview[:99] + "…"
                page = f"p.{c.page}" if c.page is not None else "-"  # a file without pages has no page 1
                typer.echo("\t".join(map(printable, (document.name, page, c.number or "-", preview))))
        if format is OutputFormat.text:
            pages = f"{document.page_count} page(s)" if document.page_count else "no page breaks"
            typer.echo(printable(f"{document.name}: {len(clauses)} clauses, {pages}, {document.format.upper()}"),
                       err=True)
    if failed:
        typer.echo(f"{failed} of {len(files)} file(s) could not be read", err=True)
        raise typer.Exit(1)
