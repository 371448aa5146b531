"""`python -m app demo`: the quick start's demo accounts and sample contracts, loaded through the services."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from app import services
from app.cli import cli
from app.config import ROOT

# Demo accounts only: anyone reading this file knows the passwords. Real ones: `python -m app users add`.
DEMO_ACCOUNTS = (
    ("lawyer", "lawyer", "lawyer-demo-pass"),
    ("reviewer", "reviewer", "reviewer-demo-pass"),
    ("reviewer2", "reviewer", "reviewer2-demo-pass"),
    ("admin", "admin", "admin-demo-pass"),
)


@cli.command()
def demo(
    samples: list[Path] = typer.Argument(None, help="Contracts to upload as the demo lawyer (default: samples/*)."),
    no_samples: bool = typer.Option(False, "--no-samples", help="Only create the demo accounts."),
) -> None:
    """Create the demo accounts (if missing) and upload the sample contracts as the demo lawyer.

    Example: python -m app demo
    """
    console = Console()
    existing = {u.name for u in services.list_users()}
    for name, role, password in DEMO_ACCOUNTS:
        if name not in existing:
            try:
                services.register_user(name, password, role)
            except services.ServiceError as e:
                console.print(f"[red]{e}[/red]")
                raise typer.Exit(1) from None
    if not no_samples:
        lawyer = services.authenticate(DEMO_ACCOUNTS[0][0], DEMO_ACCOUNTS[0][2])
        paths = samples or sorted(p for p in (ROOT / "samples").iterdir() if p.suffix in {".pdf", ".txt", ".docx", ".html"})
        with Progress(console=console, transient=True) as progress:
            for path in paths:
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
