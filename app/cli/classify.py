"""`python -m app classify`: score a JSONL file of clauses with a model version and its routing policy."""
from __future__ import annotations

from pathlib import Path

import typer
from tqdm import tqdm


def classify(
    input: Path = typer.Option(..., "--input", "-i", help="JSONL file, one clause per line with 'id' and 'text' (and optionally 'heading', its section)."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file to write, one prediction per line."),
    model: str = typer.Option(None, "--model", "-m", help="Model version; default: the active one."),
    device: str = typer.Option(None, "--device", help="auto, cpu or cuda; default from LEXDORA_DEVICE."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Classify clauses: each output line has id, label, probs (label -> probability), decision and reason.

    Example: python -m app classify --input clauses.jsonl --output preds.jsonl --model default
    """
    from app.batch.inputs import read_clause_records
    from app.batch.local import classify_records
    from app.classifier import Classifier, ClassifierError
    from app.registry import ModelVersionNotFound
    from app.routing import PolicyError, load_policy

    if not input.is_file():
        raise typer.BadParameter(f"{input} is not a file", param_hint="--input")
    records, bad = read_clause_records(input)
    for n, problem in bad:
        typer.echo(f"{input}:{n}: skipped: {problem}", err=True)
    try:
        classifier = Classifier.load(model, device=device)
        policy = load_policy(classifier.version)
    except (ModelVersionNotFound, ClassifierError, PolicyError) as e:
        typer.echo(f"Error: {e}", err=True)
        raise typer.Exit(1) from None
    with tqdm(total=len(records), unit="clause", disable=quiet) as bar:
        classify_records(records, classifier, policy, output, progress=bar.update)
    typer.echo(f"{len(records)} clauses classified with model {classifier.version.name} -> {output}"
               + (f"; {len(bad)} bad line(s) skipped" if bad else ""), err=True)
