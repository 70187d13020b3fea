"""`hotline stats` and `hotline export`: the numbers a network reports, and de-identified incident files.

Thin commands over `bot.stats` and `bot.export` (parse arguments, call one function, print).
"""

from __future__ import annotations

import time
from datetime import date

import click
from flask.cli import with_appcontext

from .. import export, stats
from . import runtime


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-07-01", param_hint=name) from None


@click.command("stats")
@click.option("--since", help="First day (YYYY-MM-DD, the network's local date); default: the first recorded.")
@click.option("--until", help="Last day, inclusive; default: today.")
@click.option("--by", type=click.Choice(["day", "week", "city", "zip"]), help="Also break the totals down.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (totals exact; breakdown cells suppressed below N).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: one line per breakdown row, then the total.")
@with_appcontext
def stats_command(since: str | None, until: str | None, by: str | None, as_json: bool, as_csv: bool):
    """Print de-identified totals that outlive retention: sightings, reporters, verified operations, arrests."""
    rt = runtime()
    result = stats.totals(rt.r, rt.settings, _day(since, "--since"), _day(until, "--until"), by=by)
    min_cell = rt.settings.stats_min_cell
    if as_json:
        click.echo(stats.as_json(result, min_cell))
        return
    if as_csv:
        click.echo(stats.as_csv(result, min_cell), nl=False)
        return
    for key, label in stats.HEADLINE_LABELS.items():
        value = result[key]
        shown = "—" if value is None else (f"{value:.0%}" if key == "unidentified_share" else f"{value:,}")
        click.echo(f"{label:<50} {shown:>8}")
    for what, label in (("first_accept", "Time to first accept"), ("first_arrival", "Time to first arrival")):
        buckets = ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in result[what].items() if n)
        click.echo(f"{label:<50} {buckets or '—'}")
    for cell in result.get("rows", []):
        counts = stats.suppress(cell.counts, min_cell)
        parts = [f"{m}={'<' + str(min_cell) if counts[m] is None else counts[m]}" for m in stats.HEADLINE]
        click.echo(f"{cell.label}\t" + " ".join(parts))


@click.command("export")
@click.option("--since", help="First day an incident began (YYYY-MM-DD, local date).")
@click.option("--until", help="Last day, inclusive.")
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), default="csv", show_default=True)
@click.option("--free-text", is_flag=True, help="Include reporters' free-text descriptions (the export then says so).")
@click.option("--by", "by_whom", default="cli", show_default=True, help="Who exports, for the audit record.")
@with_appcontext
def export_command(since: str | None, until: str | None, fmt: str, free_text: bool, by_whom: str):
    """Export incidents de-identified (areas, not points; no reporter ids) for lawyers and researchers."""
    rt = runtime()
    rows = export.rows(rt.r, rt.settings, _day(since, "--since"), _day(until, "--until"), free_text=free_text)
    export.audit(rt.r, by_whom, fmt, len(rows), free_text, time.time())
    click.echo(export.as_geojson(rows, free_text) if fmt == "geojson" else export.as_csv(rows, free_text), nl=False)
