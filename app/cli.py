"""`python -m app ...`: a thin shell over the library and the services.

Each room adds its own command here: ingest, classify, score, users.
"""
from __future__ import annotations

import typer

cli = typer.Typer(help="lexdora: liability buckets for commercial contracts.", no_args_is_help=True,
                  add_completion=False)


@cli.callback()
def _root() -> None:
    """lexdora: liability buckets for commercial contracts."""
    # An explicit callback keeps `python -m app COMMAND` a group even while one command is registered.


def main() -> None:
    cli()


from app import classify_cli  # noqa: E402,F401  (registers `classify`)
from app import cli_users  # noqa: E402,F401  (registers `users`)
from app import demo  # noqa: E402,F401  (registers `demo`)
from app.ingest import cli as _ingest_cli  # noqa: E402,F401  (registers `ingest`)
