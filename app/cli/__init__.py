"""`python -m app ...`: a thin shell over the library and the services.

Each command module parses its arguments, makes one library or service call and prints; the
commands are registered here, so no command module imports this one and nothing outside app/cli
imports app.cli.
"""
from __future__ import annotations

import typer

from app.cli import classify, demo, ingest, score, users, worker

cli = typer.Typer(help="lexdora: liability buckets for commercial contracts.", no_args_is_help=True,
                  add_completion=False)


@cli.callback()
def _root() -> None:
    """lexdora: liability buckets for commercial contracts."""
    # An explicit callback keeps `python -m app COMMAND` a group even while one command is registered.


cli.command()(ingest.ingest)
cli.command()(classify.classify)
cli.command()(score.score)
cli.command()(demo.demo)
cli.command()(worker.worker)
cli.add_typer(users.users, name="users")


def main() -> None:
    cli()
