"""What the commands share: one way to end with an error message."""
from __future__ import annotations

import typer


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as one red line on stderr; raise the result to exit with `code`."""
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)
