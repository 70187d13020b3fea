"""`hotline coordinators add|list|remove`: the console's named logins.

The password is read from standard input when it is not a terminal (so a
script or a password manager can pipe it), else prompted twice without echo.
Removing an account ends every session it has at once.
"""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup

from .. import audit, coordinators

coordinators_group = AppGroup("coordinators", help="Coordinator logins for the console (/dashboard).")


def _rt():
    return current_app.extensions["hotline"]


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@coordinators_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(coordinators.ROLES),
    default="dispatcher",
    show_default=True,
    help="dispatcher: act on incidents; admin: also the roster.",
)
def add_command(name: str, role: str):
    """Create (or replace, ending its sessions) a coordinator login."""
    rt = _rt()
    now = time.time()
    try:
        stored = coordinators.add(rt.r, name, _read_password(), role, now)
    except coordinators.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(rt.r, "account_added", "cli", now, account=stored, role=role)
    click.echo(f"coordinator {stored} ({role}) can log in at /dashboard/login")


@coordinators_group.command("list")
def list_command():
    """Show who can log in, their role and live sessions."""
    rows = coordinators.list_all(_rt().r)
    if not rows:
        click.echo("no coordinators: add one with `hotline coordinators add NAME`")
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['role']}\t{row['sessions']} session(s)")


@coordinators_group.command("remove")
@click.argument("name")
def remove_command(name: str):
    """Revoke a login: the account goes and its sessions end now."""
    rt = _rt()
    if not coordinators.remove(rt.r, name):
        raise click.ClickException(f"no coordinator named {coordinators.normalize(name)!r}")
    audit.record(rt.r, "account_removed", "cli", time.time(), account=coordinators.normalize(name))
    click.echo(f"removed {coordinators.normalize(name)}; their sessions have ended")
