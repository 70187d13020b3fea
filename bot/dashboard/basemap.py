"""`GET /dashboard/basemap.json`: the console map's default background, from data the project ships.

A tile server would learn where the network's incidents are from the tiles a
console asks for, so by default the map draws only what is already here: the
coordinators' gazetteer (flows/places.yaml: landmarks, neighbourhoods, corners)
and the ZIP code centroids of the `zipcodes` package inside HOTLINE_GEO_BOUNDS,
as one small GeoJSON layer. County and state outlines come from the vendored
`us-atlas` TopoJSON (bot/static/vendor/README.md). A network with its own tile
server sets HOTLINE_MAP_TILES instead.
"""

from __future__ import annotations

import functools
from pathlib import Path

import zipcodes
from flask import current_app

from .. import geo
from . import bp, runtime


@functools.lru_cache(maxsize=8)
def _zip_features(bounds: tuple[float, float, float, float]) -> tuple[dict, ...]:
    found = []
    for z in zipcodes.list_all():
        if not z.get("lat") or z.get("zip_code_type") not in ("STANDARD", "UNIQUE"):
            continue
        lat, lon = float(z["lat"]), float(z["long"])
        if geo._in_bounds(lat, lon, bounds):
            found.append(_point(lat, lon, layer="zip", name=z["zip_code"], city=z["city"]))
    return tuple(found)


def _point(lat: float, lon: float, **properties) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]},
        "properties": properties,
    }


def features(bounds, places_path: str | Path) -> list[dict]:
    """Return the basemap's features: gazetteer places and corners, then ZIP centroids, all inside bounds."""
    gazetteer = geo.load_places(places_path)
    shown = [
        _point(p.lat, p.lon, layer="place", name=p.name, kind=p.kind, precision_m=p.precision_m)
        for p in gazetteer.places
        if geo._in_bounds(p.lat, p.lon, bounds)
    ]
    for pair, city, lat, lon in gazetteer.intersections:
        if geo._in_bounds(lat, lon, bounds):
            names = sorted(gazetteer.streets[s][0] for s in pair)
            shown.append(_point(lat, lon, layer="corner", name=" & ".join(names), city=city))
    return shown + list(_zip_features(tuple(bounds)))


@bp.get("/dashboard/basemap.json")
def basemap():
    settings = runtime().settings
    body = {
        "type": "FeatureCollection",
        "bbox": [settings.bounds[1], settings.bounds[0], settings.bounds[3], settings.bounds[2]],
        "features": features(settings.bounds, Path(settings.flows_dir) / "places.yaml"),
    }
    return current_app.response_class(current_app.json.dumps(body), mimetype="application/geo+json")
