"""From the staged OSM rows to the index tables: crossings, street extents, places, words.

The crossing rule: a node shared by ways of two differently named streets.
A divided road is drawn as two one-way ways a few dozen metres apart, so one
real crossing shows up as two to four shared nodes; those within COLLAPSE_M of
each other become one crossing at their middle. The same pair of names far
apart (Main St & 1st St in two cities) stays two crossings, each labelled with
its city, which is what lets the conversation ask "which one?".
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from .location import _dist_m
from .osm_names import CITY_KINDS, alias_keys, plain_name, street_key
from .osm_schema import SCHEMA, SCHEMA_VERSION, cell_id, deletions, flat_m2

if TYPE_CHECKING:
    from .osm_import import Staged

COLLAPSE_M = 80.0
"""Shared nodes of one pair of streets closer than this are one crossing (divided roads, slip lanes)."""

JOIN_M = 250.0
"""Ways of one name whose extents come this close are one street (gaps at freeways, mapped breaks)."""

LANDMARK_STREET_M = 150.0
"""A landmark is "on" the nearest named street within this distance, when it has no addr:street."""

AREA_DEDUPE_M = 3000.0
"""A place node and an admin area of the same name this close are one place."""

CITY_M = 8000.0
"""A crossing or shop is labelled with the nearest city centre within this distance (centres, not boundaries)."""

HOOD_M = 2000.0
"""... and with the nearest neighbourhood centre within this one."""


class _Nearest:
    """Nearest named area to a point, on a coarse grid (few hundred areas, tens of thousands of lookups)."""

    STEP = 0.05  # degrees: about 5 km

    def __init__(self, areas: list[tuple[str, float, float]]):
        self.grid: dict[tuple[int, int], list[tuple[str, float, float]]] = {}
        for area in areas:
            self.grid.setdefault(self._key(area[1], area[2]), []).append(area)

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        return int(math.floor(lat / self.STEP)), int(math.floor(lon / self.STEP))

    def name(self, lat: float, lon: float, within_m: float) -> str:
        """The nearest area's name, or "" when none is within within_m."""
        y, x = self._key(lat, lon)
        rings = int(within_m / 5000) + 1
        for r in range(rings + 1):
            cells = [(y + dy, x + dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
            near = [a for c in cells for a in self.grid.get(c, ())]
            if near:
                best = min(near, key=lambda a: flat_m2((lat, lon), (a[1], a[2])))
                return best[0] if _dist_m((lat, lon), (best[1], best[2])) <= within_m else ""
        return ""


def _clusters(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Group points closer than COLLAPSE_M to a point of the group; return each group's middle."""
    groups: list[list[tuple[float, float]]] = []
    for p in points:
        joined = [g for g in groups if any(_dist_m(p, q) < COLLAPSE_M for q in g)]
        merged = [p] + [q for g in joined for q in g]
        groups = [g for g in groups if g not in joined] + [merged]
    return [(sum(p[0] for p in g) / len(g), sum(p[1] for p in g) / len(g)) for g in groups]


def _components(ways: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Merge way extents (s, w, n, e) of one street that touch or nearly touch; return the merged extents."""
    pad = JOIN_M / 111000.0
    merged: list[list[float]] = []
    for s, w, n, e in sorted(ways, key=lambda b: b[1]):
        box = [s, w, n, e]
        keep = []
        for m in merged:
            if m[1] - pad <= box[3] and box[1] - pad <= m[3] and m[0] - pad <= box[2] and box[0] - pad <= m[2]:
                box = [min(box[0], m[0]), min(box[1], m[1]), max(box[2], m[2]), max(box[3], m[3])]
            else:
                keep.append(m)
        merged = keep + [box]
    return [(b[0], b[1], b[2], b[3]) for b in merged]


def _areas(db: sqlite3.Connection, staged: Staged) -> tuple[_Nearest, _Nearest]:
    kept: list[tuple[str, str, float, float, list[str]]] = []
    for area in staged.areas:
        key = street_key(area[0])
        if any(street_key(k[0]) == key and _dist_m(area[2:4], k[2:4]) < AREA_DEDUPE_M for k in kept):
            continue
        kept.append(area)
    for name, kind, lat, lon, others in kept:
        precision = 5000 if kind in CITY_KINDS else 2500
        row = (name, kind, lat, lon, precision)
        pid = db.execute("INSERT INTO places (name, kind, lat, lon, precision_m) VALUES (?,?,?,?,?)", row).lastrowid
        _add_aliases(db, alias_keys([name, *others]), "p", int(pid or 0))
    cities = _Nearest([(a[0], a[2], a[3]) for a in kept if a[1] in CITY_KINDS])
    hoods = _Nearest([(a[0], a[2], a[3]) for a in kept if a[1] not in CITY_KINDS])
    return cities, hoods


def _add_aliases(db: sqlite3.Connection, keys: list[str], kind: str, ref: int) -> None:
    rows = [((k.split() + [""])[0], (k.split() + [""])[1], k, kind, ref) for k in keys]
    db.executemany("INSERT INTO aliases (first, second, words, kind, ref) VALUES (?,?,?,?,?)", rows)


def _crossings(db: sqlite3.Connection, cities: _Nearest, hoods: _Nearest) -> int:
    pairs: dict[tuple[int, int], list[tuple[float, float]]] = {}
    rows = db.execute(
        "SELECT lat, lon, GROUP_CONCAT(DISTINCT street) FROM refs GROUP BY node HAVING COUNT(DISTINCT street) > 1"
    )
    for lat, lon, streets in rows:
        ids = sorted(int(s) for s in streets.split(","))
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                pairs.setdefault((a, b), []).append((lat, lon))
    out = []
    for (a, b), points in pairs.items():
        for lat, lon in _clusters(points):
            out.append((a, b, lat, lon, cities.name(lat, lon, CITY_M), hoods.name(lat, lon, HOOD_M)))
    db.executemany("INSERT INTO crossings VALUES (?,?,?,?,?,?)", out)
    return len(out)


def _streets(db: sqlite3.Connection, staged: Staged, cities: _Nearest, hoods: _Nearest) -> int:
    for key, sid in staged.names.items():
        display = plain_name(staged.displays[sid].most_common(1)[0][0])
        db.execute("INSERT INTO names (id, key, display) VALUES (?,?,?)", (sid, key, display))
        _add_aliases(db, alias_keys(sorted(staged.aliases[sid])), "s", sid)
    ways: dict[int, list[tuple[float, float, float, float]]] = {}
    for sid, s, w, n, e in db.execute(
        "SELECT street, MIN(lat), MIN(lon), MAX(lat), MAX(lon) FROM refs GROUP BY street, way"
    ).fetchall():
        ways.setdefault(sid, []).append((s, w, n, e))
    count = 0
    for sid, boxes in ways.items():
        for s, w, n, e in _components(boxes):
            mid = ((s + n) / 2, (w + e) / 2)
            lat, lon = db.execute(
                "SELECT lat, lon FROM refs WHERE street = ? AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?"
                " ORDER BY (lat - ?) * (lat - ?) + (lon - ?) * (lon - ?) LIMIT 1",
                (sid, s, n, w, e, mid[0], mid[0], mid[1], mid[1]),
            ).fetchone()
            half = max(150, int(_dist_m((s, w), (n, e)) / 2))
            db.execute(
                "INSERT INTO streets (name, lat, lon, precision_m, south, west, north, east, city, area)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (sid, lat, lon, half, s, w, n, e, cities.name(lat, lon, CITY_M), hoods.name(lat, lon, HOOD_M)),
            )
            count += 1
    return count


def _street_near(db: sqlite3.Connection, lat: float, lon: float) -> int | None:
    here = cell_id(lat, lon)
    cells = [here + dy * 10_000_000 + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    rows = db.execute(f"SELECT street, lat, lon FROM samples WHERE cell IN ({','.join('?' * 9)})", cells).fetchall()
    best = min(rows, key=lambda r: flat_m2((lat, lon), (r[1], r[2])), default=None)
    if best is None or _dist_m((lat, lon), (best[1], best[2])) > LANDMARK_STREET_M:
        return None
    return int(best[0])


def _landmarks(db: sqlite3.Connection, staged: Staged, cities: _Nearest) -> int:
    counts = Counter(street_key(lm[0]) for lm in staged.landmarks)
    area_keys = {street_key(a[0]) for a in staged.areas}  # a building called "Helsinki" is not what people mean
    seen: set[tuple[str, int, int]] = set()
    displays = dict(db.execute("SELECT id, display FROM names"))
    count = 0
    for name, lat, lon, others, brand, addr_street in staged.landmarks:
        key = street_key(name)
        spot = (key, round(lat * 500), round(lon * 500))  # the shop's node and its building: one place
        if not key or spot in seen or key in area_keys:
            continue
        seen.add(spot)
        sid = staged.names.get(street_key(addr_street)) if addr_street else None
        sid = sid or _street_near(db, lat, lon)
        city = cities.name(lat, lon, CITY_M)
        chain = bool(brand) or counts[key] > 1
        street = displays.get(sid) if sid else None
        if street and street_key(street) == key:  # a square named like its street: no "X on X"
            street = None
        label = f"{name} on {street}" if chain and street else name
        label = f"{label}, {city}" if city else label
        pid = db.execute(
            "INSERT INTO places (name, kind, lat, lon, precision_m) VALUES (?,?,?,?,?)",
            (label, "landmark", lat, lon, 300),
        ).lastrowid
        names = [name, *others, *([brand] if brand else [])]
        keys = alias_keys(names)
        if street:  # "the Home Depot on Slauson", "Slauson Home Depot"
            skey = street_key(street)
            keys += [f"{k} {skey}" for k in keys[:3]] + [f"{skey} {k}" for k in keys[:3]]
        _add_aliases(db, keys, "p", int(pid or 0))
        count += 1
    return count


def _typos(db: sqlite3.Connection) -> None:
    firsts = [
        w
        for (w,) in db.execute("SELECT first FROM aliases UNION SELECT second FROM aliases")
        if len(w) >= 5 and not w.isdigit()
    ]
    db.executemany("INSERT INTO typos VALUES (?,?)", [(v, w) for w in firsts for v in {w, *deletions(w)}])


def finish(db: sqlite3.Connection, staged: Staged, source: Path, bounds) -> dict:
    """Write the index tables from the staged rows (the refs staging table is dropped with the connection)."""
    started = time.monotonic()
    db.executescript(SCHEMA)
    db.execute("CREATE INDEX temp.refs_node ON refs (node)")
    db.execute("CREATE INDEX temp.refs_street ON refs (street, way)")
    db.execute("CREATE INDEX temp.samples_cell ON samples (cell)")
    cities, hoods = _areas(db, staged)
    crossings = _crossings(db, cities, hoods)
    streets = _streets(db, staged, cities, hoods)
    landmarks = _landmarks(db, staged, cities)
    _typos(db)
    db.executescript(
        "CREATE INDEX aliases_first ON aliases (first, second); CREATE INDEX typos_variant ON typos (variant);"
        "CREATE INDEX crossings_ab ON crossings (a, b); CREATE INDEX streets_name ON streets (name);"
    )
    counts = {
        "streets": len(staged.names),
        "street_parts": streets,
        "crossings": crossings,
        "landmarks": landmarks,
        "areas": db.execute("SELECT COUNT(*) FROM places WHERE kind != 'landmark'").fetchone()[0],
        "ways": staged.ways,
        "nodes": staged.refs,
    }
    meta = {
        "schema": str(SCHEMA_VERSION),
        "source": source.name,
        "imported_at": str(int(time.time())),
        "bounds": ",".join(map(str, bounds)) if bounds else "",
        **{k: str(v) for k, v in counts.items()},
    }
    db.executemany("INSERT INTO meta VALUES (?,?)", meta.items())
    counts["build_s"] = round(time.monotonic() - started, 2)
    return counts
