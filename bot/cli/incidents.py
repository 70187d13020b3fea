"""`hotline incidents` and `hotline contacts …`: open incidents at a glance, trusted and blocked reporters.

Thin commands over `bot.incidents` (parse arguments, call one function, print).
Numbers typed by a coordinator are read with phonenumbers and turned into the
contact id at once; the number itself is never printed or stored.
"""

from __future__ import annotations

import json
import time

import click
import phonenumbers
from flask.cli import AppGroup, with_appcontext

from .. import incidents, privacy
from ..dispatch import board, lifecycle
from . import runtime

COLUMNS = ("id", "ref", "status", "kind", "precision", "reporters", "texted", "accepted", "created_at", "where")
"""Columns of the human-readable table, in order."""


def _where(incident: dict) -> str:
    label = incident["details"].get("label") if isinstance(incident.get("details"), dict) else None
    if label:
        return label
    if incident["lat"] is None:
        return "unplaced"
    return f"{incident['lat']:.5f},{incident['lon']:.5f}"


@click.group("incidents", cls=AppGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.pass_context
@with_appcontext
def incidents_command(ctx, as_json: bool):
    """List open incidents, most recently active first (or act on one: verify, unfounded, close, dispatch)."""
    if ctx.invoked_subcommand is not None:
        return
    rt = runtime()
    rows = incidents.list_open(rt.r, time.time(), rt.settings)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no open incidents")
        return
    table = [COLUMNS] + [tuple(str(row[c]) if c != "where" else _where(row) for c in COLUMNS) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


contacts_group = AppGroup("contacts", help="Mark reporters as trusted or blocked.")


def _contact_id(number: str) -> str:
    """Read a number the way people write it and return its contact id."""
    rt = runtime()
    try:
        parsed = phonenumbers.parse(number, rt.settings.default_region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise click.ClickException("that is not a valid phone number")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return privacy.contact_id(rt.settings.secret, e164)


def _mark(number: str, level: str | None) -> None:
    contact_id = _contact_id(number)
    incidents.set_trust(runtime().r, contact_id, level)
    click.echo(f"contact {contact_id[:8]}: {level or 'ordinary reporter'}")


@contacts_group.command("trust")
@click.argument("number")
def trust_command(number: str):
    """Trust a reporter: their reports start corroborated."""
    _mark(number, "trusted")


@contacts_group.command("block")
@click.argument("number")
def block_command(number: str):
    """Block a reporter: acknowledged politely, never dispatched, never counted."""
    _mark(number, "blocked")


@contacts_group.command("clear")
@click.argument("number")
def clear_command(number: str):
    """Make a reporter ordinary again."""
    _mark(number, None)


def _incident_id(ref: str) -> str:
    found = board.resolve(runtime().r, ref)
    if found is None:
        raise click.ClickException(f"no incident {ref}")
    return found


def _act(action, ref: str, note: str, **kwargs) -> None:
    rt = runtime()
    incident_id = _incident_id(ref)
    try:
        action(rt, incident_id, "cli", time.time(), note=note, **kwargs)
    except (incidents.BadTransition, lifecycle.BadAction) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{incidents.ref_for(incident_id)}: {incidents.get(rt.r, incident_id)['status']}")


_NOTE = click.option("--note", default="", help="Why, for the timeline.")


@incidents_command.command("verify")
@click.argument("ref")
@_NOTE
@click.option("--yes", is_flag=True, help="Send the community alert without asking.")
def verify_command(ref: str, note: str, yes: bool):
    """Mark an incident verified and send the community alert (shown first, then asked)."""
    rt = runtime()
    preview = lifecycle.verify_preview(rt, _incident_id(ref))
    if preview["subscribers"]:
        click.echo(f"The alert goes to {preview['subscribers']} subscriber(s) in {preview['area']}:")
        click.echo(f"  {preview['text']}")
    else:
        click.echo("No alert subscribers near this incident: nothing is sent to the public.")
    if not yes and not click.confirm("Verify?", default=False):
        raise click.ClickException("not verified")
    _act(lifecycle.verify, ref, note)


@incidents_command.command("unfounded")
@click.argument("ref")
@_NOTE
def unfounded_command(ref: str, note: str):
    """Mark an incident unfounded: seeking stops, observers asked stand down."""
    _act(lifecycle.unfounded, ref, note)


@incidents_command.command("close")
@click.argument("ref")
@_NOTE
def close_command(ref: str, note: str):
    """Close an incident; observers still asked or going hear it closed."""
    _act(lifecycle.close, ref, note)


@incidents_command.command("release")
@click.argument("ref")
@_NOTE
def release_command(ref: str, note: str):
    """Dispatch an incident a flood cap held (the console's "Release to dispatch")."""
    _act(lifecycle.release, ref, note)


@incidents_command.command("dispatch")
@click.argument("ref")
@click.option("--observer", "names", multiple=True, required=True, help="Roster name (or id); repeat for several.")
def dispatch_command(ref: str, names: tuple[str, ...]):
    """Text named observers the dispatch for an incident; their YES counts like any other."""
    rt = runtime()
    incident_id = _incident_id(ref)
    ids = []
    for name in names:
        observer_id = board.find_observer(rt, name)
        if observer_id is None:
            raise click.ClickException(f"no observer named {name!r} on the roster")
        ids.append(observer_id)
    try:
        result = lifecycle.dispatch_to(rt, incident_id, ids, "cli", time.time())
    except (incidents.BadTransition, lifecycle.BadAction) as exc:
        raise click.ClickException(str(exc)) from None
    if result["queued"]:
        click.echo(f"texting {', '.join(result['queued'])} (code {result['code']})")
    for name, why in result["skipped"].items():
        click.echo(f"not texted: {name} ({why})")
