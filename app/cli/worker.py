"""`python -m app worker`: the consumer that scores uploaded contracts in the background."""
from __future__ import annotations

import typer


def worker(
    workers: int = typer.Option(1, "--workers", min=1, help="Threads scoring at once (they share one model)."),
) -> None:
    """Score uploaded contracts in the background until stopped (Ctrl+C finishes the contract in hand).

    On start it queues again what a stopped worker left unfinished. The queue is LEXDORA_QUEUE_URL
    (a SQLite file by default; redis://... for several machines).

    Example: python -m app worker
    """
    from app.worker import run  # imports Huey and opens the queue: only for this command

    run(workers=workers)
