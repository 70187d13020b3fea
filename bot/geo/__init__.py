"""Turning an answer, a pin or a link into a located point with an honest precision.

Pure and offline (no Redis, no network) so the webhook can call it on its hot
path. A chain of locators is tried from the most to the least precise: a pin,
a map link, typed coordinates, the coordinators' gazetteer (flows/places.yaml:
cross streets, landmarks), then the map imported from OpenStreetMap (its
crossings and landmarks), a ZIP code, gazetteer and map areas, US city names
from the `zipcodes` package, and last a street of the map named alone. Names resolve only inside `bounds` so "Florence"
never lands in Italy or Kentucky; when a name fits more than one place the
answer carries `candidates` so the conversation can ask which one.

Modules: `location` (Location, precision classes), `points` (pins, links,
coordinates, ZIPs), `places` (the gazetteer and US place names), `places_check`
(its mistakes, for `hotline flows check`), `match` (names against the gazetteer
and the map), `words` (forgiving matching); the OpenStreetMap map: `osm_import`
and `osm_build` (`hotline places import`), `osm_index` (reading it, reloading
on a new import), `osm_names` and `osm_schema` (what both sides agree on).
"""

from __future__ import annotations

from pathlib import Path

from . import osm_index
from .location import (
    CLEAR_CONFIDENCE,
    KIND_PRECISION_M,
    PRECISION_M,
    Location,
    _in_bounds,
    distance_m,
    precision_class,
)
from .match import from_names
from .places import DEFAULT_PLACES, Gazetteer, Place, load_places, us_places
from .places_check import check_places
from .points import _URL_RE, from_coordinates, from_link, from_pin, from_zip, is_short_link
from .words import fold, words

__all__ = [
    "check_places",
    "CLEAR_CONFIDENCE",
    "DEFAULT_PLACES",
    "distance_m",
    "KIND_PRECISION_M",
    "PRECISION_M",
    "Gazetteer",
    "Location",
    "Place",
    "fold",
    "from_coordinates",
    "from_link",
    "from_names",
    "from_pin",
    "from_zip",
    "is_short_link",
    "load_places",
    "locate",
    "osm_index",
    "precision_class",
    "us_places",
    "warm",
    "words",
    "_in_bounds",
]


def warm(bounds=None, places: str | Path | None = None) -> None:
    """Load the gazetteer and the US place names for bounds now (about a second, once per process)."""
    load_places(places)
    us_places(tuple(bounds) if bounds else None)


def locate(
    text: str | None,
    *,
    lat: float | None = None,
    lon: float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    places: str | Path | None = None,
) -> Location | None:
    """Locate a pin or a text answer; None when nothing in it places it."""
    if lat is not None and lon is not None:
        found = from_pin(lat, lon)
        if found:
            return found
    text = (text or "").strip()[:500]
    if not text:
        return None
    g = load_places(places)
    return (
        from_link(text, bounds, g)
        or from_coordinates(_URL_RE.sub(" ", text), bounds)
        or from_names(text, bounds, g, with_areas=False)
        or from_zip(text, bounds)
        or from_names(text, bounds, g)
    )
