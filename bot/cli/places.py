"""`hotline places import`: build the offline map index from an OpenStreetMap extract.

Thin: parse the bounds, call `geo.osm_import.import_osm` into HOTLINE_DATA_DIR,
print what was kept. Running web processes and workers pick the new file up
within a few seconds (they look at it once a second), no restart.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from ..geo import osm_index
from ..geo.osm_import import import_osm
from . import runtime

places_group = AppGroup("places", help="The offline map: streets and places from OpenStreetMap.")


def _bounds(text: str) -> tuple[float, float, float, float]:
    try:
        south, west, north, east = (float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"must be south,west,north,east, got {text!r}") from None
    if not (south < north and west < east):
        raise click.BadParameter(f"must have south<north and west<east, got {text!r}")
    return south, west, north, east


@places_group.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--bounds", default=None, help="south,west,north,east to keep (default: HOTLINE_GEO_BOUNDS).")
def import_command(source: str, bounds: str | None) -> None:
    """Import FILE (.osm.pbf, .osm or .osm.bz2) and replace the map index the hotline uses."""
    settings = runtime().settings
    box = _bounds(bounds) if bounds else settings.bounds
    if not source.endswith((".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")):
        raise click.BadParameter("must be an OpenStreetMap extract: .osm.pbf, .osm or .osm.bz2", param_hint="FILE")
    target = Path(settings.data_dir) / osm_index.INDEX_FILE
    try:
        counts = import_osm(source, target, box)
    except RuntimeError as exc:  # osmium's reader error: a truncated or foreign file
        raise click.ClickException(f"{source} could not be read as OpenStreetMap data: {exc}") from None
    click.echo(
        f"{counts['streets']} streets, {counts['crossings']} crossings, {counts['landmarks']} places, "
        f"{counts['areas']} neighbourhoods and cities inside {','.join(map(str, box))} "
        f"→ {target} ({counts['bytes'] // 1024} KB) in {counts['total_s']} s"
    )
    click.echo("Map data © OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)")
