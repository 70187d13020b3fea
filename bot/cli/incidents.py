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
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .. import incidents, privacy

COLUMNS = ("id", "ref", "status", "kind", "precision", "reporters", "texted", "accepted", "created_at", "where")
"""Columns of the human-readable table, in order."""


def _rt():
    return current_app.extensions["hotline"]


def _where(incident: dict) -> str:
    label = incident["details"].get("label") if isinstance(incident.get("details"), dict) else None
    if label:
        return label
    if incident["lat"] is None:
        return "unplaced"
    return f"{incident['lat']:.5f},{incident['lon']:.5f}"


@click.command("incidents")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@with_appcontext
def incidents_command(as_json: bool):
    """List open incidents, most recently active first."""
    rt = _rt()
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
    rt = _rt()
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
    incidents.set_trust(_rt().r, contact_id, level)
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
