"""Coarse areas: the ZIP and city a point lies in, never a street.

What the public (alerts) and the long-lived statistics may name about a place:
an area a few kilometres across, from the ZIP centroids the `zipcodes` package
ships. Offline, loaded once per process and bounds box.
"""

from __future__ import annotations

import functools

import zipcodes

from .location import _dist_m


@functools.cache
def zip_table(bounds: tuple[float, float, float, float] | None) -> tuple[tuple[str, str, float, float], ...]:
    """ZIP centroids (zip, city, lat, lon) inside the hotline's area, loaded once per process."""
    rows = []
    for z in zipcodes.list_all():
        if not z.get("lat") or not z.get("active", True):
            continue
        lat, lon = float(z["lat"]), float(z["long"])
        if bounds is None or (bounds[0] <= lat <= bounds[2] and bounds[1] <= lon <= bounds[3]):
            rows.append((z["zip_code"], z["city"], lat, lon))
    return tuple(rows)


def area_of(bounds, lat: float, lon: float, radius_km: float = 0.0) -> tuple[list[str], str]:
    """Return the ZIPs within radius_km of a point (the nearest first) and its coarse name ("Bell 90201")."""
    table = zip_table(tuple(bounds) if bounds else None)
    if not table:
        return [], ""
    ranked = sorted(table, key=lambda z: _dist_m((lat, lon), (z[2], z[3])))
    nearest = ranked[0]
    zips = [z[0] for z in ranked if _dist_m((lat, lon), (z[2], z[3])) <= radius_km * 1000] or [nearest[0]]
    if nearest[0] not in zips:
        zips.insert(0, nearest[0])
    return zips, f"{nearest[1].title()} {nearest[0]}"
