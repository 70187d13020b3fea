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


CELL_DEG = 0.05
"""Grid cell for the nearest-ZIP index, about 5 km: a metro area's ZIP centroids are a few km apart."""

_COS_LA = 0.83
"""cos(34°): east-west degrees are shorter than north-south ones where US networks work.

Within a metro area the nearest centroid by this flat distance is the nearest by great-circle distance."""


@functools.cache
def _grid(bounds: tuple[float, float, float, float] | None) -> dict[tuple[int, int], list[tuple[str, float, float]]]:
    cells: dict[tuple[int, int], list[tuple[str, float, float]]] = {}
    for zip_code, _, lat, lon in zip_table(bounds):
        cells.setdefault((int(lat // CELL_DEG), int(lon // CELL_DEG)), []).append((zip_code, lat, lon))
    return cells


def nearest_zip(bounds, lat: float, lon: float) -> str | None:
    """The ZIP whose centroid is nearest a point, from a grid (it runs on every report's path).

    Rings of cells are searched outwards; after ring r, nothing unseen can be nearer than
    r cells (east-west, the narrower way), so the search stops once the best is that close.
    """
    cells = _grid(tuple(bounds) if bounds else None)
    if not cells:
        return None
    ci, cj = int(lat // CELL_DEG), int(lon // CELL_DEG)
    best, best_d = None, float("inf")
    for ring in range(0, 400):
        for i in range(ci - ring, ci + ring + 1):
            for j in range(cj - ring, cj + ring + 1):
                if max(abs(i - ci), abs(j - cj)) != ring:
                    continue
                for zip_code, zlat, zlon in cells.get((i, j), ()):
                    d = (zlat - lat) ** 2 + ((zlon - lon) * _COS_LA) ** 2
                    if d < best_d:
                        best, best_d = zip_code, d
        if best is not None and (ring * CELL_DEG * _COS_LA) ** 2 >= best_d:
            break
    return best


def area_of(bounds, lat: float, lon: float, radius_km: float = 0.0) -> tuple[list[str], str]:
    """Return the ZIPs within radius_km of a point (the nearest first) and its coarse name ("Bell 90201")."""
    table = zip_table(tuple(bounds) if bounds else None)
    if not table:
        return [], ""
    ranked = sorted(table, key=lambda z: _dist_m((lat, lon), (z[2], z[3])))
    nearest_code = nearest_zip(bounds, lat, lon)  # the one the statistics name, so the two never disagree
    nearest = next(z for z in table if z[0] == nearest_code)
    zips = [z[0] for z in ranked if _dist_m((lat, lon), (z[2], z[3])) <= radius_km * 1000] or [nearest[0]]
    if nearest[0] not in zips:
        zips.insert(0, nearest[0])
    return zips, f"{nearest[1].title()} {nearest[0]}"
