"""Turning an answer, a pin or a link into a located point with an honest precision.

Pure and offline: no Redis, no network, so the webhook can call it on its hot
path. (Phase 1: pins, typed coordinates, US ZIP centroids; the gazetteer and
map links come next.)
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import zipcodes

PRECISION_M = {"exact": 30, "street": 150, "landmark": 300, "zip": 2500, "city": 5000}
"""Typical error radius in metres of each precision class."""



def precision_class(precision_m: float) -> str:
    """Name the narrowest precision class whose typical error covers precision_m metres."""
    for name, metres in PRECISION_M.items():
        if precision_m <= metres:
            return name
    return "city"


_COORDS_RE = re.compile(r"(-?\d{1,2}\.\d+)\s*[, ]\s*(-?\d{1,3}\.\d+)")
_ZIP_RE = re.compile(r"\b(\d{5})(?:-\d{4})?\b")


@dataclass(frozen=True)
class Location:
    """A located point: where, how precise, and what to call it."""

    lat: float
    lon: float
    precision: str
    precision_m: int
    label: str
    source: str
    confidence: float = 1.0
    candidates: tuple = field(default_factory=tuple)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("candidates")
        return data


def _in_bounds(lat: float, lon: float, bounds) -> bool:
    if bounds is None:
        return True
    south, west, north, east = bounds
    return south <= lat <= north and west <= lon <= east


def locate(text: str | None, *, lat: float | None = None, lon: float | None = None,
           bounds: tuple[float, float, float, float] | None = None) -> Location | None:
    """Locate a pin or a text answer; None when nothing in it places it."""
    if lat is not None and lon is not None:
        return Location(lat, lon, "exact", PRECISION_M["exact"], f"{lat:.5f},{lon:.5f}", "pin")
    text = (text or "").strip()
    if not text:
        return None
    match = _COORDS_RE.search(text)
    if match:
        la, lo = float(match.group(1)), float(match.group(2))
        if -90 <= la <= 90 and -180 <= lo <= 180:
            return Location(la, lo, "exact", PRECISION_M["exact"], f"{la:.5f},{lo:.5f}", "coords")
    match = _ZIP_RE.search(text)
    if match:
        found = zipcodes.matching(match.group(1))
        if found and found[0].get("lat"):
            z = found[0]
            la, lo = float(z["lat"]), float(z["long"])
            return Location(la, lo, "zip", PRECISION_M["zip"], f"{z['city']} {z['zip_code']}", "zip")
    return None
