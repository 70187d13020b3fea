"""A located point and its precision classes: the vocabulary every locator answers in."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

PRECISION_M = {"exact": 30, "street": 150, "landmark": 300, "zip": 2500, "city": 5000}
"""Typical error radius in metres of each precision class (zip also covers neighborhoods)."""

KIND_PRECISION_M = {
    "landmark": PRECISION_M["landmark"],
    "neighborhood": PRECISION_M["zip"],
    "city": PRECISION_M["city"],
}
"""Default precision of a gazetteer place by its kind."""

CLEAR_CONFIDENCE = 0.6
"""Below this confidence an answer should be confirmed with the reporter."""


@dataclass(frozen=True)
class Location:
    """A located point: where, how precise, how sure, what to call it, and the alternatives."""

    lat: float
    lon: float
    precision: str
    precision_m: int
    label: str
    source: str
    confidence: float = 1.0
    candidates: tuple = field(default_factory=tuple)
    """Every place the words could mean (the first is this one); empty when only one fits."""

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("candidates")
        return data

    @property
    def needs_confirmation(self) -> bool:
        """Tell whether the reporter should be asked before this place is used."""
        return bool(self.candidates) or self.confidence < CLEAR_CONFIDENCE or self.precision in ("zip", "city")


def precision_class(precision_m: float) -> str:
    """Name the narrowest precision class whose typical error covers precision_m metres."""
    for name, metres in PRECISION_M.items():
        if precision_m <= metres:
            return name
    return "city"


def _point(lat: float, lon: float, precision_m: int, label: str, source: str, confidence: float) -> Location:
    return Location(
        round(lat, 6),
        round(lon, 6),
        precision_class(precision_m),
        int(precision_m),
        label,
        source,
        round(confidence, 2),
    )


def _in_bounds(lat: float, lon: float, bounds) -> bool:
    if bounds is None:
        return True
    south, west, north, east = bounds
    return south <= lat <= north and west <= lon <= east


def _valid(lat: float, lon: float) -> bool:
    return -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0)


EARTH_RADIUS_M = 6371000.0
"""Mean Earth radius: the haversine's error (under 0.5 %) is far below any precision class."""


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres: the hotline's one distance, for geo, dispatch and alerts."""
    la1, lo1, la2, lo2 = map(math.radians, (lat1, lon1, lat2, lon2))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _dist_m(p, q) -> float:
    """`distance_m` between two (lat, lon, ...) points."""
    return distance_m(p[0], p[1], q[0], q[1])
