"""`python -m app score`: contracts in bulk -> per-clause rows and a per-contract summary (app.batch)."""
from __future__ import annotations

from pathlib import Path

import typer

from app.batch import BatchError, printable, run_batch, write_summary


def score(
    paths: list[Path] = typer.Argument(
        ..., help="Contract files (PDF, DOCX, TXT, HTML) or folders, searched recursively."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Per-clause results: FILE.jsonl or FILE.csv; also the resume log."),
    summary: Path | None = typer.Option(
        None, "--summary", help="CSV with one row per contract (has_cap, has_uncapped, p_cap, p_uncapped, counts)."),
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
        result = run_batch(paths, output, model=model, db=db, uploader=uploader, engine=engine, workers=workers,
                           progress=not quiet)
    except BatchError as e:
        typer.echo(printable(f"error: {e}"), err=True)
        raise typer.Exit(2) from None
    report = result.report
    if summary is not None:
        write_summary(summary, result.summary())
    copies = f"{len(report.copies)} copies of another file, " if report.copies else ""
    passed = f"{len(report.ignored)} passed over (listed above), " if report.ignored else ""
    warned = f"{len(report.warnings)} with a warning (listed above), " if report.warnings else ""
    typer.echo(f"{report.scored} contracts scored ({report.clauses} clauses), {report.skipped} already done, "
               f"{copies}{passed}{warned}{len(report.failures)} failed{' (listed above)' if report.failures else ''}; "
               + printable(f"results in {output}"), err=True)
    if report.failures:
        raise typer.Exit(1)
