"""`python -m app users ...`: accounts on this machine's database.

add, list, disable, enable, reset-password, set-role.
"""
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


def _user_id(name: str) -> int:
    try:
        return services.find_user(name).id
    except services.ServiceError as e:
        raise fail(str(e)) from None


def _run(call, message) -> None:
    try:
        user = call()
    except services.ServiceError as e:
        raise fail(str(e)) from None
    typer.echo(message(user))


@users.command("disable")
def disable(name: str = typer.Argument(..., help="Login name.")) -> None:
    """Disable an account: it can no longer log in (its reviews stay; its claims go back to the queue).

    Example: python -m app users disable rita
    """
    _run(lambda: services.set_user_active(None, _user_id(name), False), lambda u: f"disabled {u.name}")


@users.command("enable")
def enable(name: str = typer.Argument(..., help="Login name.")) -> None:
    """Enable a disabled account again.

    Example: python -m app users enable rita
    """
    _run(lambda: services.set_user_active(None, _user_id(name), True), lambda u: f"enabled {u.name}")


@users.command("reset-password")
def reset_password(
        name: str = typer.Argument(..., help="Login name."),
        generate: bool = typer.Option(False, "--generate", help="Make a random password and print it once."),
        password: str = typer.Option(None, "--password", "-p", help="Asked for (twice) when neither this nor "
                                                                     "--generate is given.")) -> None:
    """Give an account a new password.

    Example: python -m app users reset-password rita --generate
    """
    user_id = _user_id(name)
    if generate:
        password = services.generate_password()
    elif password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    _run(lambda: services.set_password(user_id, password),
         lambda u: f"new password for {u.name}: {password}" if generate else f"password of {u.name} changed")


@users.command("set-role")
def set_role(name: str = typer.Argument(..., help="Login name."),
             role: str = typer.Argument(..., help=f"One of: {', '.join(ROLES)}.")) -> None:
    """Change an account's role.

    Example: python -m app users set-role rita admin
    """
    _run(lambda: services.set_role(_user_id(name), role), lambda u: f"{u.name} is now {u.role}")
