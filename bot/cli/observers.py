"""`hotline observers …`: the roster from CSV, shifts from YAML, join codes, duty at a glance.

Thin commands over `bot.observers` (parse arguments, call one function, print).
"""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from .. import observers, store
from ..dispatch import board, roster
from . import runtime

observers_group = AppGroup("observers", help="Manage the roster of legal observers.")


def _report(result, path: str, what: str) -> None:
    for line, message in result.errors:
        click.echo(f"{path}:{line}: {message}", err=True)
    click.echo(f"{what} {result.imported}, {len(result.errors)} bad")
    if result.errors:
        raise SystemExit(1)


@observers_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_command(path: str):
    """Upsert observers from a CSV (name,phone,languages,location,radius_km,on_call[,skills,shifts,timezone])."""
    rt = runtime()
    _report(observers.import_csv(rt.r, rt.settings, path, time.time()), path, "imported")


@observers_group.command("shifts")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def shifts_command(path: str):
    """Set weekly shifts from a YAML file (`timezone:` and `shifts: {phone: [mon-fri 18:00-23:00]}`)."""
    rt = runtime()
    _report(observers.import_shifts_yaml(rt.r, rt.settings, path, time.time()), path, "updated")


@observers_group.command("join-code")
@click.option("--location", required=True, help="Home location: lat,lon, a ZIP code or a known place.")
@click.option("--radius-km", default=10.0, show_default=True, help="How far they will go.")
@click.option("--languages", default="en", show_default=True, help="Like en;es.")
@click.option("--skills", default="legal_observer", show_default=True)
@click.option("--days", default=7, show_default=True, help="Days the code stays valid.")
def join_code_command(location: str, radius_km: float, languages: str, skills: str, days: int):
    """Issue a code a volunteer texts as `JOIN CODE` to enroll with these defaults."""
    rt = runtime()
    row = {
        "name": "volunteer",
        "phone": rt.settings.twilio_number or "+13105550100",
        "languages": languages,
        "location": location,
        "radius_km": str(radius_km),
        "on_call": "no",
        "skills": skills,
    }
    try:
        observers.parse_row(row, rt.settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    defaults = {k: v for k, v in row.items() if k not in ("phone", "name")}
    code = observers.issue_join_code(rt.r, defaults, time.time(), ttl_s=days * 24 * 3600)
    click.echo(code)


@observers_group.command("list")
def list_command():
    """Show the roster: name, languages, radius, and whether each is on duty now."""
    rt = runtime()
    now = time.time()
    ids = sorted(rt.r.smembers(store.observers_all_key()))
    for _observer_id, obs in zip(ids, observers.get_many(rt.r, ids)):
        if obs:
            duty = "on" if observers.is_on_duty(obs, now) else "off"
            click.echo(
                f"{obs.get('name')}\t{obs.get('languages')}\t{obs.get('radius_km')} km\t{duty}"
                f"\t{obs.get('place', '')}{'  UNREACHABLE' if obs.get('unreachable') else ''}"
            )


@observers_group.command("remove")
@click.argument("name")
def remove_command(name: str):
    """Take a volunteer off the roster by name; their sealed number is erased with their record."""
    rt = runtime()
    observer_id = board.find_observer(rt, name)
    if observer_id is None:
        raise click.ClickException(f"no single observer named {name!r} on the roster (`hotline observers list`)")
    result = roster.apply(rt, observer_id, "remove", "cli", time.time())
    click.echo(f"removed {result['name']} from the roster")
