"""`python -m app demo`: the quick start's demo accounts and sample contracts."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from app import services
from app.demo import DEMO_ACCOUNTS, create_demo_accounts, demo_lawyer, sample_paths


def demo(
    samples: list[Path] = typer.Argument(None, help="Contracts to upload as the demo lawyer (default: samples/*)."),
    no_samples: bool = typer.Option(False, "--no-samples", help="Only create the demo accounts."),
) -> None:
    """Create the demo accounts (if missing) and upload the sample contracts as the demo lawyer.

    Each account gets a random password, printed once; for trying lexdora on this machine only.

    Example: python -m app demo
    """
    console = Console()
    try:
        created = create_demo_accounts()
    except services.ServiceError as e:
        console.print(f"[red]{escape(str(e))}[/red]")
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
                    console.print(f"[red]{escape(path.name)}[/red]: {escape(str(e))}")
                    continue
                state = "already loaded" if result.duplicate else (
                    f"{result.n_clauses} clauses, {result.n_needs_review} for review")
                console.print(f"{path.name}: {state}", markup=False, highlight=False)
    roles = dict(DEMO_ACCOUNTS)
    if created:
        # Plain lines (not a table that may wrap): copied by people, parsed by the browser tests.
        console.print("Demo accounts created; their passwords are shown this once and stored only as hashes:",
                      style="bold", highlight=False)
        for name, password in created.items():
            console.print(f"  {name:<10} {roles[name]:<9} {password}", highlight=False, markup=False)
    else:
        console.print("Demo accounts already exist (" + ", ".join(roles) + "); their passwords were shown when "
                      "they were made. New one: python -m app users reset-password NAME --generate",
                      highlight=False, markup=False)
