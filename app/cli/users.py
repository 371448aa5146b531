"""`python -m app users ...`: create and list accounts on this machine's database."""
from __future__ import annotations

import typer

from app import services
from app.cli.common import fail
from app.roles import ROLES

users = typer.Typer(help="Manage user accounts (lawyer, reviewer, admin).", no_args_is_help=True)


@users.command("add")
def add(name: str = typer.Argument(..., help="Login name."),
        role: str = typer.Option("lawyer", "--role", "-r", help=f"One of: {', '.join(ROLES)}."),
        password: str = typer.Option(..., "--password", "-p", prompt=True, hide_input=True,
                                     confirmation_prompt=True, help="Asked for when not given.")) -> None:
    """Create an account.

    Example: python -m app users add rita --role reviewer
    """
    try:
        user = services.register_user(name, password, role)
    except services.ServiceError as e:
        raise fail(str(e)) from None
    typer.echo(f"created {user.role} {user.name} (id {user.id})")


@users.command("list")
def list_() -> None:
    """List accounts with their roles.

    Example: python -m app users list
    """
    for user in services.list_users():
        typer.echo(f"{user.id}\t{user.name}\t{user.role}" + ("" if user.active else "\tdisabled"))
