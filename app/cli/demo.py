"""`python -m app demo`: the quick start's demo accounts and sample contracts."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from app import services
from app.demo import DEMO_ACCOUNTS, create_demo_accounts, demo_lawyer, sample_paths


def demo(
    samples: list[Path] = typer.Argument(None, help="Contracts to upload as the demo lawyer (default: samples/*)."),
    no_samples: bool = typer.Option(False, "--no-samples", help="Only create the demo accounts."),
) -> None:
    """Create the demo accounts (if missing) and upload the sample contracts as the demo lawyer.

    Example: python -m app demo
    """
    console = Console()
    try:
        create_demo_accounts()
    except services.ServiceError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    if not no_samples:
        lawyer = demo_lawyer()
        with Progress(console=console, transient=True) as progress:
            for path in samples or sample_paths():
                task = progress.add_task(path.name, total=1.0)
                try:
                    result = services.upload_contract(
                        lawyer.id, path.name, path.read_bytes(),
                        progress=lambda fraction, message, task=task: progress.update(task, completed=fraction))
                except services.ServiceError as e:
                    console.print(f"[red]{path.name}[/red]: {e}")
                    continue
                state = "already loaded" if result.duplicate else (
                    f"{result.n_clauses} clauses, {result.n_needs_review} for review")
                console.print(f"{path.name}: {state}")
    table = Table(title="Demo accounts")
    for column in ("user", "password", "role"):
        table.add_column(column)
    for name, role, password in DEMO_ACCOUNTS:
        table.add_row(name, password, role)
    console.print(table)
