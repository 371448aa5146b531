"""`python -m app classify`: score a JSONL file of clauses with a model version and its routing policy."""
from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from tqdm import tqdm

from app.cli import cli
from app.classifier import Classifier, ClassifierError
from app.registry import ModelVersionNotFound
from app.routing import PolicyError, load_policy

_CHUNK = 256  # clauses scored per call: big enough for length-sorted batches, small enough for steady progress


class BadLine(ValueError):
    """One input line that cannot be scored; the message says why."""


def parse_line(line: str) -> dict:
    """The {"id", "text"} of one JSONL line, or BadLine naming what is wrong."""
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
    return {"id": record["id"], "text": text}


@cli.command()
def classify(
    input: Path = typer.Option(..., "--input", "-i", help="JSONL file, one clause per line with 'id' and 'text'."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file to write, one prediction per line."),
    model: str = typer.Option(None, "--model", "-m", help="Model version; default: the active one."),
    device: str = typer.Option(None, "--device", help="auto, cpu or cuda; default from LEXDORA_DEVICE."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Classify clauses: each output line has id, label, probs (label -> probability), decision and reason.

    Example: python -m app classify --input clauses.jsonl --output preds.jsonl --model default
    """
    if not input.is_file():
        raise typer.BadParameter(f"{input} is not a file", param_hint="--input")
    records, bad = [], 0
    with input.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(parse_line(line))
            except BadLine as e:
                bad += 1
                typer.echo(f"{input}:{n}: skipped: {e}", err=True)
    try:
        classifier = Classifier.load(model, device=device)
        policy = load_policy(classifier.version)
    except (ModelVersionNotFound, ClassifierError, PolicyError) as e:
        typer.echo(f"Error: {e}", err=True)
        raise typer.Exit(1) from None

    tmp = output.with_name(f".{output.name}.tmp")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as out, tqdm(total=len(records), unit="clause", disable=quiet) as bar:
        for start in range(0, len(records), _CHUNK):
            chunk = records[start:start + _CHUNK]
            for record, pred in zip(chunk, classifier.predict([r["text"] for r in chunk])):
                decision = policy.decide(pred.probs)
                out.write(json.dumps({"id": record["id"], "label": pred.label,
                                      "probs": {k: round(v, 6) for k, v in pred.probs.items()},
                                      "decision": decision.action, "reason": decision.reason,
                                      "model": classifier.version.name}) + "\n")
            bar.update(len(chunk))
    os.replace(tmp, output)  # a finished file or none: never a half-written one
    typer.echo(f"{len(records)} clauses classified with model {classifier.version.name} -> {output}"
               + (f"; {bad} bad line(s) skipped" if bad else ""), err=True)
