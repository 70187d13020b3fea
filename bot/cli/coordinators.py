"""`hotline coordinators add|list|remove`: the console's named logins.

The password is read from standard input when it is not a terminal (so a
script or a password manager can pipe it), else prompted twice without echo.
Removing an account ends every session it has at once.
"""

from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup

from .. import audit, coordinators
from ..observers import parse as roster_parse
from . import runtime

coordinators_group = AppGroup("coordinators", help="Coordinator logins for the console (/dashboard).")


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
    rt = runtime()
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
    rows = coordinators.list_all(runtime().r)
    if not rows:
        click.echo("no coordinators: add one with `hotline coordinators add NAME`")
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['role']}\t{row['sessions']} session(s)")


@coordinators_group.command("remove")
@click.argument("name")
def remove_command(name: str):
    """Revoke a login: the account goes and its sessions end now."""
    rt = runtime()
    if not coordinators.remove(rt.r, name):
        raise click.ClickException(f"no coordinator named {coordinators.normalize(name)!r}")
    audit.record(rt.r, "account_removed", "cli", time.time(), account=coordinators.normalize(name))
    click.echo(f"removed {coordinators.normalize(name)}; their sessions have ended")


@coordinators_group.command("phone")
@click.argument("name")
@click.argument("number", required=False)
@click.option("--shifts", default="", help='weekly shifts, like "mon-fri 18:00-23:00; sat 08:00-20:00" (none: always)')
@click.option("--timezone", default="", help="time zone of the shifts (default HOTLINE_TIMEZONE)")
@click.option("--clear", is_flag=True, help="take the phone away: the voice line no longer rings it")
def phone_command(name: str, number: str | None, shifts: str, timezone: str, clear: bool):
    """Set the phone the voice line rings for this dispatcher on their shifts (docs/voice.md)."""
    rt = runtime()
    if not clear and not number:
        raise click.ClickException("give a NUMBER, or --clear")
    e164 = None
    if not clear:
        tz = timezone or rt.settings.timezone
        try:
            e164 = roster_parse.parse_phone(number or "", rt.settings.default_region)
            roster_parse.parse_shifts(shifts)
            roster_parse._timezone(tz)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        timezone = tz
    if not coordinators.set_phone(rt.r, rt.settings.secret, name, e164, shifts.strip(), timezone):
        raise click.ClickException(f"no coordinator named {coordinators.normalize(name)!r}")
    audit.record(rt.r, "account_phone", "cli", time.time(), account=coordinators.normalize(name), cleared=clear)
    if clear:
        click.echo(f"{coordinators.normalize(name)} is no longer rung for calls")
    else:
        when = shifts.strip() or "whenever a caller asks for a person"
        click.echo(f"{coordinators.normalize(name)} is rung for calls: {when} ({timezone})")
